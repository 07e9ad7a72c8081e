// docs/configuration.md is generated from the flag specs (scripts/gen-config-docs.mts): this fails when it is stale.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMON_FLAGS } from '../../scripts/lib/core/config.js';
import { SCRIPTS } from '../../scripts/lib/cli/registry.js';
import {
  CONFIG_DOCS,
  configDocsState,
  firstDifference,
  firstSentence,
  formatDefault,
  loadAll,
  REGENERATE,
  renderConfigDocs,
} from '../../scripts/lib/dev/config-docs.js';
import type { ScriptDef } from '../../scripts/lib/cli/run.js';
import { REPO, runKit } from '../support/cli.js';

describe('docs/configuration.md', () => {
  it('is what the flag specs say (regenerate it when this fails)', async () => {
    const state = await configDocsState(REPO, await loadAll(SCRIPTS));
    expect(
      state.fresh,
      `${CONFIG_DOCS} is stale (${firstDifference(state.expected, state.current)}).\nRegenerate it: ${REGENERATE}   (or: node --import tsx scripts/gen-config-docs.mts)`,
    ).toBe(true);
  });

  it('names every flag and environment variable of every script', async () => {
    const text = readFileSync(path.join(REPO, CONFIG_DOCS), 'utf8');
    for (const { entry, def } of await loadAll(SCRIPTS)) {
      expect(text).toContain(`<a id="script-${entry.name}"></a>`);
      for (const f of [...COMMON_FLAGS, ...def.flags]) {
        expect(text, `${entry.name}: --${f.name}`).toContain(`\`--${f.name}`);
        if (f.env) expect(text, `${entry.name}: ${f.env}`).toContain(`\`${f.env}\``);
      }
    }
  });

  it('gen-config-docs --check agrees', async () => {
    const r = await runKit('scripts/gen-config-docs.mts', ['--check']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});

describe('renderConfigDocs', () => {
  const def: ScriptDef = {
    name: 'demo',
    summary: 'Does a demo. Second sentence.\nSecond line.',
    flags: [
      { name: 'timeout', kind: 'duration', default: 90_000, description: 'how long' },
      { name: 'mode', kind: 'string', valueName: 'A|B', choices: ['a', 'b'], env: 'DEMO_MODE', default: 'a', description: 'pick a | b' },
      { name: 'items', kind: 'list', default: [], description: 'things' },
      { name: 'force', short: 'f', kind: 'boolean', description: 'do it' },
    ],
    footer: 'Exit codes: 0 ok.',
    run: async () => ({ steps: [], budgetMs: null }),
  };
  const text = renderConfigDocs([{ entry: { name: 'demo', path: 'scripts/demo.mts', load: async () => def }, def }]);

  it('gives each script an anchor, a usage line, its summary and a flag table', () => {
    expect(text).toContain('<a id="script-demo"></a>\n## demo');
    expect(text).toContain('./scripts/demo.mts [flags]');
    expect(text).toContain('| [`./scripts/demo.mts`](#script-demo) | Does a demo. |');
    expect(text).toContain('| `--timeout DURATION` |  | `90s` | how long |');
    // Pipes in a cell are escaped, or the table breaks.
    expect(text).toContain('| `--mode A\\|B` | `DEMO_MODE` | `a` | pick a \\| b (one of: `a`, `b`) |');
    expect(text).toContain('| `-f`, `--force` |  |  | do it |');
    expect(text).toContain('| `DEMO_MODE` | `--mode` | every script |');
    expect(text.endsWith('\n') && !text.endsWith('\n\n')).toBe(true);
  });

  it('formats defaults as a user types them', () => {
    expect(formatDefault({ name: 'b', kind: 'duration', default: 600_000, description: '' })).toBe('`10m`');
    expect(formatDefault({ name: 'b', kind: 'duration', default: 3_600_000, description: '' })).toBe('`1h`');
    expect(formatDefault({ name: 'b', kind: 'list', default: ['x', 'y'], description: '' })).toBe('`x,y`');
    expect(formatDefault({ name: 'b', kind: 'boolean', default: false, description: '' })).toBe('');
    expect(firstSentence('Keeps things.\n  start  x')).toBe('Keeps things.');
  });

  it('points at the first differing line', () => {
    expect(firstDifference('a\nb\n', 'a\nc\n')).toBe('line 2: expected "b", found "c"');
    expect(firstDifference('a', undefined)).toMatch(/does not exist/);
  });
});
