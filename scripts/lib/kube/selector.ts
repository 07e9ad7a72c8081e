// Kubernetes label selectors (`kubectl -l`), evaluated locally for the snapshot's readers: equality (=, ==, !=),
// set (in, notin) and existence (key, !key) requirements joined by commas, as the API server reads them.

/** Whether the labels match; undefined when the selector is not one this parser reads (ask the API server). */
export function labelSelectorMatches(selector: string, labels: Readonly<Record<string, string>>): boolean | undefined {
  const requirements = splitRequirements(selector);
  if (!requirements) return undefined;
  let all = true;
  for (const req of requirements) {
    const m = matchRequirement(req, labels);
    if (m === undefined) return undefined;
    all &&= m;
  }
  return all;
}

/** Splits on the commas that are not inside a set's parentheses. */
function splitRequirements(selector: string): string[] | undefined {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const ch = selector[i];
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      out.push(selector.slice(start, i).trim());
      start = i + 1;
    }
    if (depth < 0 || depth > 1) return undefined;
  }
  if (depth !== 0) return undefined;
  out.push(selector.slice(start).trim());
  return out.every(Boolean) ? out : undefined;
}

const KEY = String.raw`[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?`;
const VALUE = String.raw`([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?`;
const EQUALITY = new RegExp(String.raw`^(${KEY})\s*(==|=|!=)\s*(${VALUE})$`);
const SET = new RegExp(String.raw`^(${KEY})\s+(in|notin)\s+\(([^()]*)\)$`);
const EXISTS = new RegExp(String.raw`^(!?)\s*(${KEY})$`);

function matchRequirement(req: string, labels: Readonly<Record<string, string>>): boolean | undefined {
  let m = EQUALITY.exec(req);
  if (m) {
    const [key, op, value] = [m[1]!, m[3]!, m[4] ?? ''];
    return op === '!=' ? labels[key] !== value : labels[key] === value;
  }
  m = SET.exec(req);
  if (m) {
    const [key, op] = [m[1]!, m[3]!];
    const values = m[4]!.split(',').map((v) => v.trim());
    if (values.some((v) => !new RegExp(`^${VALUE}$`).test(v))) return undefined;
    const has = key in labels && values.includes(labels[key]!);
    return op === 'in' ? has : !has;
  }
  m = EXISTS.exec(req);
  if (m) return m[1] === '!' ? !(m[2]! in labels) : m[2]! in labels;
  return undefined;
}
