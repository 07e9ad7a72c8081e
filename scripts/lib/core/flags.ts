// Flags as data: parsing, validation, --help and docs/configuration.md all come from these specs.

import { UsageError } from './errors.js';
import { parseDuration } from './duration.js';

export type FlagKind = 'boolean' | 'string' | 'int' | 'duration' | 'list';
export type FlagValue = string | number | boolean | string[];

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  description: string;
  /** Environment variable read when the flag is not given. */
  env?: string;
  default?: FlagValue;
  /** Shown in help: --namespace NAME */
  valueName?: string;
  short?: string;
  choices?: readonly string[];
  /** Extra check on the parsed value; returns why it is wrong. */
  validate?: (value: FlagValue) => string | undefined;
  /** May be given several times (values accumulate, for 'list'). */
  repeatable?: boolean;
  /** Other names users of kubectl/helm type for the same thing (--kube-context for --context). */
  aliases?: readonly string[];
  /** It changes only what is in the cluster: refused with --no-cluster, which touches no cluster (not ignored). */
  clusterOnly?: boolean;
}

/** What a flag of each kind holds once parsed. */
export type FlagValueOf<K extends FlagKind> = K extends 'boolean' ? boolean : K extends 'int' | 'duration' ? number : K extends 'list' ? string[] : string;

/** A declared flag, typed by its kind: code reads its value through it (Options.get), never by its name. */
export type Flag<K extends FlagKind = FlagKind> = FlagSpec & { kind: K };

export function flag<K extends FlagKind>(spec: FlagSpec & { kind: K }): Flag<K> {
  return spec;
}

/** An on/off flag: most flags are only a name and what it does. */
export function booleanFlag(name: string, description: string, extra: Pick<FlagSpec, 'short' | 'clusterOnly'> = {}): Flag<'boolean'> {
  return { name, kind: 'boolean', description, ...extra };
}

/** A run's parsed flags, read through their declared Flag, defaults filled in; an undeclared flag reads undefined. */
export class Options {
  constructor(
    private readonly values: Readonly<Record<string, FlagValue | undefined>>,
    private readonly givenNames: ReadonlySet<string>,
  ) {}

  get<K extends FlagKind>(f: Flag<K>): FlagValueOf<K> | undefined {
    return this.values[f.name] as FlagValueOf<K> | undefined;
  }

  on(f: Flag<'boolean'>): boolean {
    return this.values[f.name] === true;
  }

  /** The script declares it (its value may still be undefined). */
  declares(f: FlagSpec): boolean {
    return f.name in this.values;
  }

  /** Set on the command line or through the environment (not a default). */
  given(f: FlagSpec): boolean {
    return this.givenNames.has(f.name);
  }

  /** The flags given, by name (for messages: which of them contradict --no-cluster). */
  givenOf(names: Iterable<string>): string[] {
    return [...names].filter((n) => this.givenNames.has(n));
  }
}

export interface ParsedFlags {
  values: Record<string, FlagValue | undefined>;
  /** Flags the user set on the command line or through the environment. */
  given: Set<string>;
  positionals: string[];
  /** The declared flags that change only the cluster (FlagSpec.clusterOnly). */
  clusterOnly?: ReadonlySet<string>;
}

/** `maxArgs`: how many arguments besides flags the script takes (a subcommand, a FILE), wherever they stand. */
export function parseFlags(specs: readonly FlagSpec[], argv: readonly string[], env: NodeJS.ProcessEnv = {}, maxArgs = 0): ParsedFlags {
  const byName = new Map(specs.flatMap((s) => [[s.name, s] as const, ...(s.aliases ?? []).map((a) => [a, s] as const)]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const values: Record<string, FlagValue | undefined> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  const json = byName.get('json');
  // kubectl's `-o json` / `--output json`, where the script has no -o of its own.
  const outputAlias = json && !byShort.has('o') && !byName.has('output');
  // `help` alone, as `git help` or `helm help` users type it.
  const args = argv.length === 1 && argv[0] === 'help' && byName.has('help') ? ['--help'] : expandShortFlags(argv, byShort);

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    let spec: FlagSpec | undefined;
    let inline: string | undefined;
    if (outputAlias && (arg === '-o' || arg === '--output' || arg.startsWith('--output=') || arg.startsWith('-o='))) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
      if (value !== 'json')
        throw new UsageError(`${arg.split('=')[0]} ${value ?? ''}: only json is supported (the kit's one machine-readable format)`, {
          fix: 'use --json (or -o json)',
        });
      values.json = true;
      given.add('json');
      continue;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      spec = byName.get(name);
      if (!spec) throw unknownFlag(`--${name}`, specs);
    } else if (/^-[a-zA-Z]$/.test(arg)) {
      spec = byShort.get(arg.slice(1));
      if (!spec) throw unknownFlag(arg, specs);
    } else {
      positionals.push(arg);
      continue;
    }
    let raw: string;
    if (spec.kind === 'boolean') {
      raw = inline ?? 'true';
    } else if (inline !== undefined) {
      raw = inline;
    } else {
      const next = args[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(`--${spec.name} needs a value${spec.valueName ? ` (${spec.valueName})` : ''}`, {
          fix: `e.g. --${spec.name} ${example(spec)}`,
        });
      }
      raw = next;
      i++;
    }
    const value = convert(spec, raw, `--${spec.name}`);
    if (spec.kind === 'list' && spec.repeatable && Array.isArray(values[spec.name])) {
      values[spec.name] = [...(values[spec.name] as string[]), ...(value as string[])];
    } else {
      values[spec.name] = value;
    }
    given.add(spec.name);
  }

  for (const spec of specs) {
    if (given.has(spec.name)) continue;
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv !== undefined && fromEnv !== '') {
      values[spec.name] = convert(spec, fromEnv, `${spec.env} (environment)`);
      given.add(spec.name);
    } else {
      values[spec.name] = spec.default;
    }
  }
  if (positionals.length > maxArgs) {
    throw new UsageError(
      `unexpected argument '${positionals[maxArgs]}': ${maxArgs === 0 ? 'this script takes flags only' : `this script takes at most ${maxArgs} besides its flags`}`,
      { fix: 'see --help' },
    );
  }
  return { values, given, positionals, clusterOnly: new Set(specs.filter((s) => s.clusterOnly).map((s) => s.name)) };
}

function convert(spec: FlagSpec, raw: string, where: string): FlagValue {
  let value: FlagValue;
  switch (spec.kind) {
    case 'boolean':
      if (!['true', 'false', '1', '0'].includes(raw)) throw new UsageError(`${where} takes no value (or true/false), got '${raw}'`);
      value = raw === 'true' || raw === '1';
      break;
    case 'int': {
      if (!/^\d+$/.test(raw)) throw new UsageError(`${where} must be a whole number, got '${raw}'`);
      value = Number(raw);
      break;
    }
    case 'duration': {
      if (/^\d+$/.test(raw.trim())) throw new UsageError(`${where} '${raw}' has no unit: say ${raw}m or ${raw}s (durations like 90s, 10m, 1h)`);
      const ms = parseDuration(raw);
      if (ms === undefined || ms <= 0) throw new UsageError(`${where} must be a duration like 90s, 10m or 1h, got '${raw}'`);
      value = ms;
      break;
    }
    case 'list':
      value = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (value.length === 0) throw new UsageError(`${where} is empty: give at least one value${spec.choices ? ` (${spec.choices.join(', ')})` : ''}`);
      break;
    default:
      value = raw;
  }
  if (spec.choices) {
    const items = Array.isArray(value) ? value : [String(value)];
    const bad = items.find((v) => !spec.choices!.includes(v));
    if (bad !== undefined) throw new UsageError(`${where}: '${bad}' is not one of ${spec.choices.join(', ')}`);
  }
  const why = spec.validate?.(value);
  if (why) throw new UsageError(`${where}: ${why}`);
  return value;
}

/** -vy -> -v -y: combined short flags, booleans only (a value-taking short flag must stand alone). */
function expandShortFlags(argv: readonly string[], byShort: ReadonlyMap<string, FlagSpec>): string[] {
  return argv.flatMap((arg) => {
    if (!/^-[a-zA-Z]{2,}$/.test(arg)) return [arg];
    const letters = [...arg.slice(1)];
    if (!letters.every((l) => byShort.get(l)?.kind === 'boolean')) return [arg];
    return letters.map((l) => `-${l}`);
  });
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * The flag a typo most likely meant: a close spelling (a quarter of the length, at least 1 and at most 3 edits),
 * or the one flag the typed text begins. Nothing when two are equally close or nothing is close: a suggestion that
 * is only a guess (--no-netpol for --no-cluster) would send the user to a flag that does something else.
 */
export function suggestFlag(typed: string, specs: readonly FlagSpec[]): string | undefined {
  const names = specs.flatMap((s) => [s.name, ...(s.aliases ?? [])].map((n) => ({ n, flag: s.name })));
  const prefixed = [...new Set(names.filter(({ n }) => typed.length >= 4 && n.startsWith(typed)).map((x) => x.flag))];
  if (prefixed.length === 1) return prefixed[0];
  const limit = Math.min(3, Math.max(1, Math.floor(typed.length / 4)));
  const scored = names.map(({ n, flag }) => ({ flag, d: editDistance(typed, n) })).filter((x) => x.d <= limit);
  const best = Math.min(...scored.map((x) => x.d));
  const winners = [...new Set(scored.filter((x) => x.d === best).map((x) => x.flag))];
  return winners.length === 1 ? winners[0] : undefined;
}

function unknownFlag(flag: string, specs: readonly FlagSpec[]): UsageError {
  const near = suggestFlag(flag.replace(/^-+/, ''), specs);
  return new UsageError(`unknown flag ${flag}${near ? ` (did you mean --${near}?)` : ''}`, { fix: 'see --help for the flags this script takes' });
}

function example(spec: FlagSpec): string {
  if (spec.default !== undefined && spec.default !== false) return String(spec.default);
  return { int: '3', duration: '10m', list: 'a,b', string: spec.valueName ?? 'VALUE', boolean: '' }[spec.kind];
}

export function formatHelp(usage: string, summary: string, specs: readonly FlagSpec[], footer?: string): string {
  const rows = specs.map((s) => {
    const left = `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.kind === 'boolean' ? '' : ` ${s.valueName ?? s.kind.toUpperCase()}`}`;
    const extras = [
      s.choices ? `one of: ${s.choices.join(', ')}` : '',
      s.default !== undefined && s.default !== false && !(Array.isArray(s.default) && s.default.length === 0)
        ? `default: ${s.kind === 'duration' ? `${Number(s.default) / 60_000}m` : String(s.default)}`
        : '',
      s.env ? `env: ${s.env}` : '',
    ].filter(Boolean);
    return { left, right: s.description + (extras.length ? ` (${extras.join('; ')})` : '') };
  });
  const width = Math.max(...rows.map((r) => r.left.length)) + 2;
  const flagLines = rows.flatMap((r) => wrap(r.right, HELP_COLUMNS - width - 2).map((text, i) => `  ${(i === 0 ? r.left : '').padEnd(width)}${text}`));
  const lines = [`Usage: ${usage}`, '', ...wrapBlock(summary), '', 'Flags:', ...flagLines];
  if (footer) lines.push('', ...wrapBlock(footer));
  return lines.join('\n') + '\n';
}

/** Help fits a 100-column terminal. */
export const HELP_COLUMNS = 100;

function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(line);
  return out.length ? out : [''];
}

/**
 * Summary text reflowed to the help width: a line ending a sentence ends its paragraph, other breaks are soft. An
 * indented line starts a list item ("  start    what it does"), wrapped under its own text; a line indented deeper
 * continues it.
 */
function wrapBlock(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let item: { indent: number; head: string; text: string } | undefined;
  const endItem = () => {
    if (item) out.push(...wrap(item.text, HELP_COLUMNS - item.head.length).map((l, i) => (i ? ' '.repeat(item!.head.length) : item!.head) + l));
    item = undefined;
  };
  for (const line of text.split('\n')) {
    const indent = /^ */.exec(line)![0].length;
    if (indent > 0 && line.trim()) {
      if (item && indent > item.indent) item.text += ` ${line.trim()}`;
      else {
        endItem();
        if (current) out.push(...wrap(current, HELP_COLUMNS));
        current = '';
        const [, head = ' '.repeat(indent), rest = line.trim()] = /^( +\S+ +)(\S.*)$/.exec(line) ?? [];
        item = { indent, head, text: rest };
      }
      continue;
    }
    endItem();
    current = current ? `${current} ${line.trim()}` : line.trim();
    if (/[.:]$/.test(line.trim()) || !line.trim()) {
      out.push(...(current ? wrap(current, HELP_COLUMNS) : ['']));
      current = '';
    }
  }
  endItem();
  if (current) out.push(...wrap(current, HELP_COLUMNS));
  return out;
}
