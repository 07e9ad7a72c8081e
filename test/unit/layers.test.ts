// The layers of scripts/lib, as the folders show them, and the one direction imports may take:
//   core <- kube <- run <- preflight <- components <- tools <- workflows <- dev <- cli
// (core: no Kubernetes; kube: kubectl, helm, manifests, the cluster snapshot; run: the run context, steps, the
// script contract, rollout waits, port-forwards; components: one folder each, talking to
// each other only through components/shared/; cli: the only code that touches the process). Read from the
// source: every static and dynamic relative import. Also: no import cycles anywhere in scripts/lib.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';

const LIB = path.join(REPO, 'scripts', 'lib');
const LAYERS = ['core', 'kube', 'run', 'preflight', 'components', 'tools', 'workflows', 'dev', 'cli'] as const;
const SIBLINGS_OF_SHARED = new Set(['shared']);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const files = walk(LIB);
const rel = (f: string) => path.relative(LIB, f);
const imports = new Map(
  files.map((f) => {
    const text = readFileSync(f, 'utf8');
    const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]!);
    return [f, specs.map((s) => path.resolve(path.dirname(f), s).replace(/\.js$/, '.ts'))] as const;
  }),
);
const layerOf = (f: string) => LAYERS.indexOf(rel(f).split(path.sep)[0] as (typeof LAYERS)[number]);
/** kafka, postgres, dapr, shared, or '' for components/types.ts and components/index.ts. */
const componentOf = (f: string) => {
  const parts = rel(f).split(path.sep);
  return parts[0] === 'components' && parts.length > 2 ? parts[1]! : '';
};

describe('scripts/lib layers', () => {
  it('every file sits in a layer folder', () => {
    expect(files.filter((f) => layerOf(f) < 0).map(rel)).toEqual([]);
    expect(files.length).toBeGreaterThan(50);
  });

  it('imports point down (or within their layer), never up', () => {
    // The check reads real edges (not an empty graph).
    expect([...imports.values()].flat().filter((t) => imports.has(t)).length).toBeGreaterThan(200);
    const up: string[] = [];
    for (const [f, targets] of imports) for (const t of targets) if (layerOf(t) > layerOf(f)) up.push(`${rel(f)} -> ${rel(t)}`);
    expect(up).toEqual([]);
  });

  it('components talk to each other only through components/shared/ (the registry and the contract types aside)', () => {
    const sideways: string[] = [];
    for (const [f, targets] of imports) {
      const from = componentOf(f);
      if (!from) continue;
      for (const t of targets) {
        const to = componentOf(t);
        if (to && to !== from && !SIBLINGS_OF_SHARED.has(to)) sideways.push(`${rel(f)} -> ${rel(t)}`);
        if (from === 'shared' && to && to !== 'shared') sideways.push(`${rel(f)} -> ${rel(t)} (shared depends on no component)`);
      }
    }
    expect(sideways).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map(rel).join(' -> '));
        return;
      }
      state.set(f, 'open');
      stack.push(f);
      for (const t of imports.get(f) ?? []) if (imports.has(t)) visit(t);
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of files) visit(f);
    expect(cycles).toEqual([]);
  });

  it('only cli/ touches the process (argv, exit codes, signals)', () => {
    // Code, not comments that say so.
    const code = (f: string) => readFileSync(f, 'utf8').replace(/^\s*\/\/.*$/gm, '');
    const touching = files.filter((f) => !rel(f).startsWith('cli') && /process\.(exit|exitCode|argv|on\()/.test(code(f))).map(rel);
    expect(touching).toEqual([]);
  });
});

describe('flags are read through their typed Flag, parsed once (core/flags.ts Options), never by name below cli/', () => {
  // What reading a flag by its string key looks like: the untyped bag, a given-set looked up by name, a parsed
  // values record indexed by a literal, or an Options method handed a string.
  const BY_NAME = [/\bconfig\.flags\b/, /\.flags\[/, /\.given\.has\(/, /\bvalues\s*\[\s*['"`]/, /\b(?:options|o)\.(?:get|on|given)\(\s*['"`]/];
  const byName = (text: string) =>
    text
      .split('\n')
      .map((line, i) => ({ line: line.trim(), n: i + 1 }))
      .filter(({ line }) => !line.startsWith('//') && !line.startsWith('*') && BY_NAME.some((re) => re.test(line)));

  it('finds no read by name in scripts/lib outside cli/ and the parser itself', () => {
    const found = files
      .filter((f) => !rel(f).startsWith(`cli${path.sep}`) && rel(f) !== path.join('core', 'flags.ts'))
      .flatMap((f) => byName(readFileSync(f, 'utf8')).map(({ line, n }) => `${rel(f)}:${n}: ${line}`));
    expect(found).toEqual([]);
  });

  it('the check catches each form', () => {
    for (const bad of [
      "const r = ctx.config.flags['replicas'];",
      'if (f.flags[name]) {}',
      "if (config.given.has('context')) {}",
      "const v = values['pg-url'];",
      "o.get('replicas')",
      "ctx.config.options.on('no-scheduler')",
    ])
      expect(byName(bad), bad).toHaveLength(1);
    expect(byName('const r = ctx.config.options.get(REPLICAS_FLAG);')).toEqual([]);
    expect(byName("const pw = secret.get('password');")).toEqual([]);
  });
});
