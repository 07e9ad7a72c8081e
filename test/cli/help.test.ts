// `--help` of every entry script (scripts/*.mts and the root *.mts) exits 0 and lists its flags. Each script on disk
// must be in scripts/lib/cli/registry.ts (docs/configuration.md is generated from there), and its real --help
// must be exactly the registry's ScriptDef's: the docs describe what the script really accepts.

import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { COMMON_FLAGS } from '../../scripts/lib/core/config.js';
import { allFlags, helpText, type ScriptDef } from '../../scripts/lib/cli/run.js';
import { SCRIPTS } from '../../scripts/lib/cli/registry.js';
import { REPO, runKit, STACK_TRACE, type CliResult } from '../support/cli.js';

const onDisk = [
  ...readdirSync(REPO)
    .filter((f) => f.endsWith('.mts'))
    .sort(),
  ...readdirSync(path.join(REPO, 'scripts'))
    .filter((f) => f.endsWith('.mts'))
    .sort()
    .map((f) => `scripts/${f}`),
];

/** At most this many node processes at once: two cores, and other test files run beside this one. */
const CONCURRENCY = 3;

async function pool<T, R>(items: readonly T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const results = new Map<string, CliResult>();
const defs = new Map<string, ScriptDef>();

beforeAll(async () => {
  const runs = await pool(onDisk, CONCURRENCY, (file) => runKit(file, ['--help'], { timeoutMs: 60_000 }));
  onDisk.forEach((file, i) => results.set(file, runs[i]!));
  for (const entry of SCRIPTS) defs.set(entry.path, await entry.load());
}, 120_000);

describe('every entry script', () => {
  it('is listed in scripts/lib/cli/registry.ts, and every listed script exists', () => {
    const listed = SCRIPTS.map((s) => s.path);
    const missing = onDisk.filter((f) => !listed.includes(f));
    expect(missing, `add these to SCRIPTS in scripts/lib/cli/registry.ts (then run ./scripts/gen-config-docs.mts): ${missing.join(', ')}`).toEqual([]);
    const gone = listed.filter((f) => !onDisk.includes(f));
    expect(gone, `listed in scripts/lib/cli/registry.ts but not on disk: ${gone.join(', ')}`).toEqual([]);
    expect(new Set(SCRIPTS.map((s) => s.name)).size).toBe(SCRIPTS.length);
  });

  it.each(onDisk)('%s --help exits 0 and lists its flags', (file) => {
    const r = results.get(file)!;
    expect(r.stderr, `${file} --help wrote to stderr`).not.toMatch(STACK_TRACE);
    expect(r.code, `${file} --help: ${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^Usage: /);
    const def = defs.get(file);
    const flags = def ? allFlags(def) : COMMON_FLAGS;
    for (const f of flags) expect(r.stdout, `${file} --help does not list --${f.name}`).toContain(`--${f.name}`);
    if (def) expect(r.stdout, `${file}'s --help differs from its ScriptDef in scripts/lib/cli/registry.ts`).toBe(helpText(def));
  });
});
