// Entry scripts run directly, from any directory: a two-line sh/JS header finds the repository's own tsx.

import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';

const entries = [
  ...readdirSync(REPO).filter((f) => f.endsWith('.mts')),
  ...readdirSync(path.join(REPO, 'scripts'))
    .filter((f) => f.endsWith('.mts'))
    .map((f) => `scripts/${f}`),
  'bench/deploy-bench.mts',
];

describe('entry scripts', () => {
  it.each(entries)('%s is executable and starts with the portable header', (file) => {
    accessSync(path.join(REPO, file), constants.X_OK);
    const [shebang, header] = readFileSync(path.join(REPO, file), 'utf8').split('\n');
    expect(shebang).toBe('#!/bin/sh');
    expect(header).toMatch(/^":" \/\/; r=.*exec node --import "\$r\/node_modules\/tsx\/dist\/loader.mjs" "\$0" "\$@"$/);
  });

  it('runs from another directory, and a user error there is a message, not a stack trace', () => {
    const ok = spawnSync(path.join(REPO, 'scripts/verify-postgres.mts'), ['--help'], { cwd: tmpdir(), encoding: 'utf8' });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^Usage: verify-postgres.mts/);
    const bad = spawnSync(path.join(REPO, 'deploy-all.mts'), ['--namespace', 'Nope!'], { cwd: tmpdir(), encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it('without npm ci it says so and exits 3 (environment not ready)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lf-no-modules-'));
    try {
      mkdirSync(path.join(dir, 'scripts'));
      copyFileSync(path.join(REPO, 'scripts/verify-postgres.mts'), path.join(dir, 'scripts/verify-postgres.mts'));
      chmodSync(path.join(dir, 'scripts/verify-postgres.mts'), 0o755);
      const r = spawnSync(path.join(dir, 'scripts/verify-postgres.mts'), ['--help'], { encoding: 'utf8' });
      expect(r.status).toBe(3);
      expect(r.stderr).toContain("verify-postgres.mts: run 'npm ci' in");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
