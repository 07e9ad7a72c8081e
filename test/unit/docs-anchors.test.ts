// The kit's error messages point into docs/troubleshooting.md by anchor: every anchor the code uses must exist.
// And every relative link in docs/*.md and README.md must lead to an existing file and, with #anchor, heading.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';

const TROUBLESHOOTING = 'docs/troubleshooting.md';

function walk(dir: string, keep: (f: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'node_modules' ? [] : walk(full, keep);
    return keep(name) ? [full] : [];
  });
}

const codeFiles = [
  ...walk(path.join(REPO, 'scripts'), (f) => /\.m?ts$/.test(f)),
  ...readdirSync(REPO)
    .filter((f) => f.endsWith('.mts'))
    .map((f) => path.join(REPO, f)),
];
/** Manifests' comments point at the docs too. */
const manifestFiles = walk(path.join(REPO, 'k8s'), (f) => /\.ya?ml$/.test(f));

export interface AnchorUse {
  anchor: string;
  where: string;
}

/** `docs: 'x'`, `docs: cond ? 'x' : 'y'`, `docsLink('x')`, and any literal troubleshooting.md#x. */
export function anchorsUsed(text: string, file: string): AnchorUse[] {
  const out: AnchorUse[] = [];
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  const add = (anchor: string, index: number) => out.push({ anchor, where: `${path.relative(REPO, file)}:${lineOf(index)}` });
  for (const m of text.matchAll(/\bdocs:\s*([^,}\n]+)/g)) {
    for (const lit of m[1]!.matchAll(/(['"`])([a-z0-9][a-z0-9-]*)\1/g)) add(lit[2]!, m.index!);
  }
  for (const m of text.matchAll(/\bdocsLink\(\s*(['"`])([^'"`]+)\1/g)) add(m[2]!, m.index!);
  for (const m of text.matchAll(/troubleshooting\.md#([a-z0-9][a-z0-9-]*)/g)) add(m[1]!, m.index!);
  return out;
}

/** GitHub's heading ids: lower case, punctuation dropped, spaces to '-'. */
export function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

export function anchorsIn(markdown: string): Set<string> {
  const ids = new Set<string>();
  for (const m of markdown.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) ids.add(m[1]!);
  const counts = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const h = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!h) continue;
    const base = slug(h[1]!);
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

/** [text](target) outside code blocks and inline code. */
export function linksIn(markdown: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  let fenced = false;
  markdown.split('\n').forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) return;
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push({ target: m[1]!, line: i + 1 });
  });
  return out;
}

const troubleshooting = readFileSync(path.join(REPO, TROUBLESHOOTING), 'utf8');
const troubleshootingIds = anchorsIn(troubleshooting);

describe('docs/troubleshooting.md anchors', () => {
  const uses = [...codeFiles, ...manifestFiles].flatMap((f) => anchorsUsed(readFileSync(f, 'utf8'), f));

  it('finds the anchors the code uses (the scan itself works)', () => {
    const found = new Set(uses.map((u) => u.anchor));
    for (const a of [
      'missing-tools',
      'cluster-unreachable',
      'no-default-storageclass',
      'imagepullbackoff',
      'crashloopbackoff',
      'oomkilled',
      'not-enough-resources',
      'pvc-pending',
      'budget-exceeded',
      'port-forward-drops',
      'postgres-unreachable',
      'migration-changed',
    ]) {
      expect(found, `no use of '${a}' found in scripts/: the scan is broken or the code changed`).toContain(a);
    }
    expect(
      anchorsUsed(
        `x = { fix: 'a', docs: oom ? 'oomkilled' : 'crashloopbackoff' }; docsLink('budget-exceeded'); // docs/troubleshooting.md#pvc-pending`,
        'x.ts',
      ).map((u) => u.anchor),
    ).toEqual(['oomkilled', 'crashloopbackoff', 'budget-exceeded', 'pvc-pending']);
  });

  it('has an entry for every anchor the code links to', () => {
    const missing = uses.filter((u) => !troubleshootingIds.has(u.anchor));
    expect(
      missing.map((u) => `${u.anchor} (used at ${u.where})`),
      `add <a id="..."></a> entries to ${TROUBLESHOOTING}`,
    ).toEqual([]);
  });

  it('puts each explicit anchor right before a heading, and never twice', () => {
    const lines = troubleshooting.split('\n');
    const ids: string[] = [];
    lines.forEach((line, i) => {
      const m = /^<a id="([^"]+)"><\/a>$/.exec(line.trim());
      if (!m) return;
      ids.push(m[1]!);
      expect(lines[i + 1], `anchor ${m[1]} must be followed by its heading`).toMatch(/^#{2,4} /);
    });
    expect(ids.length).toBeGreaterThan(20);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it('gives every entry a symptom, a command that confirms it and a fix to paste', () => {
    const entries = troubleshooting.split(/\n(?=<a id=")/).slice(1);
    for (const e of entries) {
      const id = /<a id="([^"]+)"/.exec(e)![1]!;
      if (!/^<a id="[^"]+"><\/a>\n### /.test(e)) continue; // section headings (##) group entries
      expect(e, `${id}: no **Symptom**`).toMatch(/\*\*Symptom\*\*/);
      expect(e, `${id}: no **Confirm**`).toMatch(/\*\*Confirm\*\*/);
      expect(e, `${id}: no **Fix**`).toMatch(/\*\*Fix\*\*/);
      expect(e, `${id}: no command block`).toMatch(/```bash\n/);
    }
  });
});

describe('relative links in docs/*.md and README.md', () => {
  const pages = [path.join(REPO, 'README.md'), ...walk(path.join(REPO, 'docs'), (f) => f.endsWith('.md'))];

  it.each(pages.map((p) => path.relative(REPO, p)))('%s links only to files and anchors that exist', (rel) => {
    const file = path.join(REPO, rel);
    const broken: string[] = [];
    for (const { target, line } of linksIn(readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      const [p, anchor] = target.split('#') as [string, string | undefined];
      const dest = p ? path.resolve(path.dirname(file), decodeURIComponent(p)) : file;
      if (!existsSync(dest)) {
        broken.push(`line ${line}: ${target} (no such file)`);
        continue;
      }
      if (anchor && dest.endsWith('.md') && !anchorsIn(readFileSync(dest, 'utf8')).has(anchor))
        broken.push(`line ${line}: ${target} (no such anchor in ${path.relative(REPO, dest)})`);
    }
    expect(broken).toEqual([]);
  });
});

describe('the helpers of this test', () => {
  it('slugs headings like GitHub and reads explicit anchors', () => {
    expect(slug('Kafka from the laptop: advertised listeners')).toBe('kafka-from-the-laptop-advertised-listeners');
    expect(slug('`KAFKA_PORT` and service links')).toBe('kafka_port-and-service-links');
    expect([...anchorsIn('<a id="x"></a>\n## Hello World\n```\n# not a heading\n```\n## Hello World\n')]).toEqual(['x', 'hello-world', 'hello-world-1']);
    expect(linksIn('see [a](b.md#c) and `[no](x.md)`\n```\n[no](y.md)\n```').map((l) => l.target)).toEqual(['b.md#c']);
  });
});
