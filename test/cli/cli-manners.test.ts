// The command-line manners users of kubectl and helm expect: typo suggestions that never guess, aliases, help that
// fits, contradictions refused with the flags named, paths from where the user stands, the right exit code for
// the right cause. Pure parts through parseFlags; the rest through the real entry scripts (no cluster needed).

import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMON_FLAGS } from '../../scripts/lib/core/config.js';
import { editDistance, HELP_COLUMNS, Options, parseFlags, suggestFlag, type FlagSpec } from '../../scripts/lib/core/flags.js';
import { SCRIPTS } from '../../scripts/lib/cli/registry.js';
import { allFlags, helpText, versionText } from '../../scripts/lib/cli/run.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { REPO, runKit, STACK_TRACE } from '../support/cli.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'lf-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
/** No kubeconfig, no cluster: what these checks need is nothing. */
const NO_CLUSTER = { KUBECONFIG: '/nonexistent/kubeconfig' };

describe('"did you mean"', () => {
  const specs: FlagSpec[] = [
    ...COMMON_FLAGS,
    { name: 'no-cluster', kind: 'boolean', description: '' },
    { name: 'no-network-policies', kind: 'boolean', description: '' },
    { name: 'replicas', kind: 'int', description: '' },
  ];

  it('suggests a close spelling or the one flag the text begins', () => {
    expect(editDistance('namepsace', 'namespace')).toBe(2);
    expect(suggestFlag('namepsace', specs)).toBe('namespace');
    expect(suggestFlag('no-network-polices', specs)).toBe('no-network-policies');
    expect(suggestFlag('replica', specs)).toBe('replicas');
    expect(suggestFlag('no-net', specs)).toBe('no-network-policies');
  });

  it('does not guess: --no-netpol is not sent to --no-cluster, nothing close gets nothing', () => {
    expect(suggestFlag('no-netpol', specs)).toBeUndefined();
    expect(suggestFlag('zookeeper', specs)).toBeUndefined();
    expect(() => parseFlags(specs, ['--no-netpol'])).toThrow(/^unknown flag --no-netpol$/);
  });
});

describe('what kubectl and helm users type', () => {
  it('--kube-context, -o json, combined short flags and `help`', () => {
    expect(parseFlags(COMMON_FLAGS, ['--kube-context', 'kind-x']).values.context).toBe('kind-x');
    expect(parseFlags(COMMON_FLAGS, ['-o', 'json']).values.json).toBe(true);
    expect(parseFlags(COMMON_FLAGS, ['--output=json']).values.json).toBe(true);
    expect(() => parseFlags(COMMON_FLAGS, ['-o', 'yaml'])).toThrow(/only json is supported/);
    const combined = parseFlags(COMMON_FLAGS, ['-hv']).values;
    expect([combined.help, combined.verbose]).toEqual([true, true]);
    expect(parseFlags(COMMON_FLAGS, ['help']).values.help).toBe(true);
  });

  it('--timeout is the budget of a component script', async () => {
    const r = await runKit('scripts/deploy-postgres.mts', ['--dry-run', '--timeout', '7m', '--json'], { env: NO_CLUSTER });
    expect((JSON.parse(r.stdout) as Report).steps[0]!.budgetMs).toBe(420_000);
  });

  it('--kubeconfig FILE is what kubectl reads', async () => {
    const r = await runKit('scripts/verify-postgres.mts', ['--kubeconfig', 'no/such/kubeconfig', '-v'], { env: NO_CLUSTER });
    expect(r.code).toBe(3);
    expect(r.stderr).not.toMatch(STACK_TRACE);
  });
});

describe('--help, --version, --quiet, NO_COLOR', () => {
  it("every script's help fits 100 columns", async () => {
    for (const s of SCRIPTS) {
      const text = helpText(await s.load());
      const wide = text.split('\n').filter((l) => l.length > HELP_COLUMNS);
      expect(wide, s.name).toEqual([]);
    }
  });

  it('--version names the kit and every pin', async () => {
    const r = await runKit('deploy-all.mts', ['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(versionText());
    expect(r.stdout).toMatch(/^learnflow-infra-kit \d+\.\d+\.\d+\n/);
    for (const pin of ['apache/kafka:', 'postgres:', 'chart dapr ', 'redis:', 'curlimages/curl:']) expect(r.stdout).toContain(pin);
  });

  it('--quiet keeps warnings and failures only; --verbose --quiet is refused', async () => {
    const quiet = await runKit('scripts/deploy-postgres.mts', ['--dry-run', '--quiet'], { env: NO_CLUSTER });
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).not.toContain('plan for PostgreSQL');
    const both = await runKit('scripts/deploy-postgres.mts', ['--dry-run', '-v', '-q'], { env: NO_CLUSTER });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--verbose and --quiet contradict');
  });

  it('NO_COLOR and TERM=dumb give plain lines on a terminal', async () => {
    const { main } = await import('../../scripts/lib/cli/run.js');
    const { fakeClock } = await import('../support/fakes.js');
    const def = await SCRIPTS.find((s) => s.name === 'deploy-postgres')!.load();
    for (const env of [{ NO_COLOR: '1' }, { TERM: 'dumb' }]) {
      const err: string[] = [];
      await main(def, ['--dry-run'], env, { stdout: () => {}, stderr: (l) => err.push(l), clock: fakeClock(), tty: true });
      expect(err.join('\n'), JSON.stringify(env)).not.toContain('\x1b[');
    }
  });
});

describe('contradictions and meaningless values are refused, naming the flags (exit 2)', () => {
  const cases: [string, string[], RegExp][] = [
    ['scripts/deploy-postgres.mts', ['--no-cluster', '--pg-url', 'postgres://u:p@127.0.0.1:1/db', '--tls'], /--no-cluster and --tls contradict/],
    [
      'scripts/deploy-postgres.mts',
      ['--no-cluster', '--pg-url', 'postgres://u:p@127.0.0.1:1/db', '--rotate-secrets'],
      /--no-cluster and --rotate-secrets contradict/,
    ],
    ['scripts/install-dapr.mts', ['--dry-run', '--control-plane-only', '--with-redis'], /--control-plane-only and --with-redis contradict/],
    ['scripts/deploy-kafka.mts', ['--dry-run', '--replicas', '2'], /quorum of 2 voters/],
    [
      'scripts/install-dapr.mts',
      ['--dry-run', '--with-zipkin', '--zipkin-endpoint', 'http://z:9411/api/v2/spans'],
      /--with-zipkin and --zipkin-endpoint contradict/,
    ],
    ['scripts/deploy-kafka.mts', ['--dry-run', '--budget', '10'], /has no unit: say 10m or 10s/],
    ['deploy-all.mts', ['--dry-run', '--budget', 'kafka=10'], /has no unit/],
    ['deploy-all.mts', ['--dry-run', '--only', ''], /--only is empty/],
  ];
  for (const [script, args, message] of cases) {
    it(`${script} ${args.join(' ')}`, async () => {
      const r = await runKit(script, args, { env: NO_CLUSTER });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(STACK_TRACE);
    });
  }

  it('a component budget above the total is warned about', async () => {
    const r = await runKit('deploy-all.mts', ['--dry-run', '--budget', 'kafka=40m'], { env: NO_CLUSTER });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('the Kafka budget (40m00s) is above the total (30m00s)');
  });

  it('verify-all --no-cluster reports Dapr as skipped, never ok', async () => {
    const r = await runKit('verify-all.mts', [
      '--no-cluster',
      '--pg-url',
      'postgres://u:p@127.0.0.1:1/db',
      '--kafka-brokers',
      '127.0.0.1:1',
      '--only',
      'dapr',
      '--json',
    ]);
    const step = (JSON.parse(r.stdout) as Report).steps.find((s) => s.name === 'verify-dapr')!;
    expect(step.status).toBe('skipped');
  });
});

describe('paths from where the user stands', () => {
  it('--migrations and --topics resolve against the current directory; wrong kinds of path are exit 2 with the fix', async () => {
    const cwd = path.join(tmp, 'work');
    mkdirSync(path.join(cwd, 'mig'), { recursive: true });
    writeFileSync(path.join(cwd, 'mig', '0001_x.sql'), 'SELECT 1;');
    const script = (s: string) => path.join(REPO, s);
    const run = (s: string, args: string[]) =>
      new Promise<{ code: number; stderr: string }>((resolve) => {
        try {
          execFileSync(process.execPath, ['--import', 'tsx', script(s), ...args], {
            cwd,
            env: { ...process.env, ...NO_CLUSTER, NODE_PATH: path.join(REPO, 'node_modules') },
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          resolve({ code: 0, stderr: '' });
        } catch (err) {
          const e = err as { status: number; stderr: Buffer };
          resolve({ code: e.status, stderr: e.stderr.toString() });
        }
      });
    symlinkSync(path.join(REPO, 'node_modules'), path.join(cwd, 'node_modules'));
    const ok = await runKit('scripts/deploy-postgres.mts', ['--dry-run', '--migrations', path.join(cwd, 'mig')], { env: NO_CLUSTER });
    expect(ok.stderr).toContain('0001_x.sql');
    const rel = await run('scripts/deploy-postgres.mts', ['--dry-run', '--migrations', 'mig']);
    expect(rel.code, rel.stderr).toBe(0);
    const file = await run('scripts/deploy-postgres.mts', ['--dry-run', '--migrations', 'mig/0001_x.sql']);
    expect(file.code).toBe(2);
    expect(file.stderr).toContain('mig/0001_x.sql is a file, not a folder');
    const dir = await run('scripts/deploy-kafka.mts', ['--dry-run', '--topics', 'mig']);
    expect(dir.code).toBe(2);
    expect(dir.stderr).toContain('--topics: mig is a folder');
    expect(dir.stderr + file.stderr).not.toMatch(STACK_TRACE);
  });
});

describe('the right cause', () => {
  it('a missing kubectl is named as such (exit 3), by every script that needs one', async () => {
    const bin = path.join(tmp, 'bin');
    mkdirSync(bin, { recursive: true });
    for (const b of ['bash', 'sh', 'env'])
      symlinkSync(
        execFileSync('sh', ['-c', `command -v ${b}`])
          .toString()
          .trim(),
        path.join(bin, b),
      );
    for (const s of ['scripts/deploy-postgres.mts', 'scripts/verify-kafka.mts', 'scripts/backup-postgres.mts', 'deploy-all.mts']) {
      const r = await runKit(s, [], { env: { PATH: bin } });
      expect(r.code, s).toBe(3);
      expect(r.stderr, s).toContain('kubectl is not installed or not on PATH');
    }
  });

  it('the flags of a mutating script include --yes (the target guard asks for it)', async () => {
    const def = await SCRIPTS.find((s) => s.name === 'deploy-kafka')!.load();
    expect(allFlags(def).map((f) => f.name)).toContain('yes');
  });
});

describe('remembered settings', () => {
  it('a flag wins, then what the last deploy applied, then the default; contradictory flags are refused', async () => {
    const { chooseSetting } = await import('../../scripts/lib/run/remembered.js');
    const { WITH_REDIS_FLAG, NO_REDIS_FLAG } = await import('../../scripts/lib/components/dapr/settings.js');
    const base = { name: 'Redis', on: WITH_REDIS_FLAG, off: NO_REDIS_FLAG, fallback: false };
    const options = (values: Record<string, boolean>) => new Options(values, new Set(Object.keys(values)));
    expect(chooseSetting({ ...base, options: options({}) })).toEqual({ value: false, why: 'Redis off' });
    expect(chooseSetting({ ...base, options: options({}), remembered: 'true' })).toEqual({ value: true, why: 'Redis on, as deployed (--no-redis changes it)' });
    expect(chooseSetting({ ...base, options: options({ 'no-redis': true }), remembered: 'true' })).toEqual({ value: false, why: 'Redis off (--no-redis)' });
    expect(() => chooseSetting({ ...base, options: options({ 'with-redis': true, 'no-redis': true }) })).toThrow(/contradict/);
  });
});

describe('--diff', () => {
  it('names the objects kubectl diff shows, as Kind/name', async () => {
    const { objectsInDiff } = await import('../../scripts/lib/workflows/component-scripts.js');
    const text = [
      'diff -u -N /tmp/LIVE-1/v1.Service.learnflow.kafka /tmp/MERGED-2/v1.Service.learnflow.kafka',
      '--- /tmp/LIVE-1/v1.Service.learnflow.kafka\t2026-12-02',
      '+++ /tmp/MERGED-2/v1.Service.learnflow.kafka\t2026-12-02',
      'diff -u -N /tmp/LIVE-1/apps.v1.StatefulSet.learnflow.kafka /tmp/MERGED-2/apps.v1.StatefulSet.learnflow.kafka',
      '+++ /tmp/MERGED-2/apps.v1.StatefulSet.learnflow.kafka\t2026-12-02',
      '+++ /tmp/MERGED-2/dapr.io.v1alpha1.Component.learnflow.kafka-pubsub\t2026-12-02',
    ].join('\n');
    expect(objectsInDiff(text)).toEqual(['Service/kafka', 'StatefulSet/kafka', 'Component/kafka-pubsub']);
  });

  it('a kubectl diff that fails (no diff program, say) is a step error with the fix, not an internal one', async () => {
    const { Kube } = await import('../../scripts/lib/kube/kubectl.js');
    const { StepError } = await import('../../scripts/lib/core/errors.js');
    const { fakeExec, on } = await import('../support/fakes.js');
    const exec = fakeExec(on(['diff', '--server-side'], { stderr: 'error: failed to run "diff": executable file not found in $PATH', exitCode: 2 }));
    const err = await new Kube(exec, 'learnflow').diff([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as InstanceType<typeof StepError>).fix).toMatch(/diff program/);
  });
});
