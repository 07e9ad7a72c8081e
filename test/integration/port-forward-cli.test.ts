// scripts/port-forward.mts end to end, as a user runs it, with a fake `kubectl` first on PATH (the simulated
// cluster runs no containers, so `kubectl port-forward` cannot be real here). The fake answers the reads the
// script makes and, for port-forward, listens on the local port and answers like PostgreSQL. The supervisor is a
// real detached process: started, killed kubectl re-opened, stopped.

import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeLocalPort, processLooksLike, readState } from '../../scripts/lib/tools/port-forward.js';
import { freeLocalPort } from '../../scripts/lib/run/port-forward.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { runKit, STACK_TRACE } from '../support/cli.js';
import { until as untilHolds } from '../support/poll.js';

const FAKE_KUBECTL = `#!${process.execPath}
// Fake kubectl for scripts/port-forward.mts tests.
const net = require('node:net');
let args = process.argv.slice(2);
const ci = args.indexOf('--context');
if (ci >= 0) args.splice(ci, 2);
const has = (...w) => w.every((x) => args.includes(x));
if (args[0] === 'version') {
  process.stdout.write(JSON.stringify({ clientVersion: { major: '1', minor: '34', gitVersion: 'v1.34.10' }, serverVersion: { major: '1', minor: '34', gitVersion: 'v1.34.10' } }));
} else if (has('get', '--all-namespaces')) {
  // the other stacks' records and workloads, when the stack has no record yet: none
  process.stdout.write(JSON.stringify({ items: [] }));
} else if (has('get', 'configmap', 'learnflow-stack')) {
  // no stack record: --ignore-not-found prints nothing
} else if (has('get', 'service', 'postgresql')) {
  process.stdout.write(JSON.stringify({ kind: 'Service', metadata: { name: 'postgresql' } }));
} else if (has('get', 'statefulset')) {
  // no Kafka deployed: --ignore-not-found prints nothing
} else if (args[0] === 'port-forward') {
  const [local, remote] = args.find((a) => /^\\d+:\\d+$/.test(a)).split(':');
  const srv = net.createServer((s) => s.on('data', () => s.write('N')));
  srv.on('error', (e) => { process.stderr.write('Unable to listen on port ' + local + ': ' + e.message + '\\n'); process.exit(1); });
  srv.listen(Number(local), '127.0.0.1', () => process.stdout.write('Forwarding from 127.0.0.1:' + local + ' -> ' + remote + '\\n'));
  process.on('SIGTERM', () => process.exit(0));
} else {
  process.stderr.write('fake kubectl: unexpected ' + args.join(' ') + '\\n');
  process.exit(1);
}
`;

let dir: string;
let state: string;
let pgPort: number;
let env: NodeJS.ProcessEnv;

const pf = (...args: string[]) => runKit('scripts/port-forward.mts', [...args, '--state-file', state], { env, timeoutMs: 60_000 });

const until = (cond: () => boolean, what: string, timeoutMs = 15_000) => untilHolds(cond, what, { timeoutMs, intervalMs: 100 });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'learnflow-pf-cli-'));
  const bin = path.join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(path.join(bin, 'kubectl'), FAKE_KUBECTL);
  chmodSync(path.join(bin, 'kubectl'), 0o755);
  state = path.join(dir, 'pf.json');
  pgPort = await freeLocalPort();
  env = { PATH: `${bin}:${process.env.PATH ?? ''}`, LEARNFLOW_CONTEXT: 'kind-test' };
});

afterAll(() => {
  // Never leave a supervisor behind, whatever happened above.
  const st = readState(state);
  for (const pid of [st?.supervisorPid, ...(st?.forwards.map((f) => f.pid) ?? [])]) {
    if (pid && processLooksLike(pid, 'port-forward')) process.kill(pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('port-forward.mts start | status | stop', () => {
  it('starts a detached supervisor, re-opens a forward whose kubectl died, and stops cleanly', async () => {
    const start = await pf('start', '--pg-port', String(pgPort));
    expect(start.stderr).not.toMatch(STACK_TRACE);
    expect(start.code, start.stderr).toBe(0);
    expect(start.stdout).toMatch(new RegExp(`postgresql\\s+127\\.0\\.0\\.1:${pgPort}\\s+svc/postgresql:5432\\s+\\d+\\s+up\\s+0\\s+yes`));
    expect(start.stderr).toMatch(/not forwarding Kafka/);

    const first = readState(state)!;
    expect(first.context).toBe('kind-test');
    expect(processLooksLike(first.supervisorPid, 'port-forward')).toBe(true);
    const kubectl1 = first.forwards[0]!.pid!;
    expect(await probeLocalPort(pgPort, 'postgres')).toEqual({ answers: true, detail: 'PostgreSQL answered' });

    // status --json: one report, every check green.
    const status = await pf('status', '--json');
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as Report;
    expect(report.steps[0]!.checks.map((c) => [c.name, c.ok])).toEqual([
      ['supervisor', true],
      ['postgresql', true],
    ]);

    // A second start is a no-op.
    const again = await pf('start', '--pg-port', String(pgPort));
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already running/);
    expect(readState(state)!.supervisorPid).toBe(first.supervisorPid);

    // The forward drops (kubectl dies): the supervisor re-opens it on the same port.
    process.kill(kubectl1, 'SIGKILL');
    await until(() => {
      const f = readState(state)?.forwards[0];
      return !!f && f.state === 'up' && f.pid !== undefined && f.pid !== kubectl1;
    }, 'the forward to be re-opened');
    expect(readState(state)!.forwards[0]!.restarts).toBe(1);
    expect(await probeLocalPort(pgPort, 'postgres')).toMatchObject({ answers: true });

    const stop = await pf('stop');
    expect(stop.code, stop.stderr).toBe(0);
    expect(existsSync(state)).toBe(false);
    await until(() => !processLooksLike(first.supervisorPid, 'port-forward'), 'the supervisor to exit', 5000);
    expect((await probeLocalPort(pgPort, 'postgres')).answers).toBe(false);

    const after = await pf('status');
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/supervisor: not running/);
    expect((await pf('stop')).code).toBe(0);
  }, 90_000);
});
