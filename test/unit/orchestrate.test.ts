import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ComponentName } from '../../scripts/lib/components/types.js';
import { capacityHint, freeCapacity, manifestRequests } from '../../scripts/lib/preflight/capacity.js';
import { parseCpu, parseMemory } from '../../scripts/lib/kube/quantity.js';
import { COMPONENTS, deployStages } from '../../scripts/lib/components/index.js';
import type { Component } from '../../scripts/lib/components/types.js';
import { buildConfig } from '../../scripts/lib/core/config.js';
import { createCtx } from '../../scripts/lib/run/context.js';
import { StepError } from '../../scripts/lib/core/errors.js';
import { parseFlags } from '../../scripts/lib/core/flags.js';
import { createLogger, SecretRegistry } from '../../scripts/lib/core/log.js';
import { deployAllScript, destroyAllScript, parseBudgets, verifyAllScript } from '../../scripts/lib/workflows/deploy-verify-all.js';
import { ensureCapacity, ensureClusterReachable, ensureDefaultStorageClass, ensureTargetContext, ensureTools } from '../../scripts/lib/preflight/checks.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { allFlags, main, type ScriptDef } from '../../scripts/lib/cli/run.js';
import { fakeClock, fakeExec, on, type FakeHandler } from '../support/fakes.js';
import { renderPostgres } from '../../scripts/lib/components/postgres/manifests.js';
import { REPO_ROOT } from '../../scripts/lib/core/repo.js';

const outDir = mkdtempSync(path.join(tmpdir(), 'lf-orch-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const node = (cpu: string, memory: string, extra: object = {}) => ({
  metadata: { name: `n-${cpu}-${memory}` },
  status: { allocatable: { cpu, memory } },
  ...extra,
});

/** A healthy cluster as kubectl would describe it. */
function cluster(opts: { context?: string; kubectlMinor?: string; storageClasses?: object[]; nodes?: object[]; pods?: object[] } = {}): FakeHandler[] {
  const storageClasses = opts.storageClasses ?? [{ metadata: { name: 'standard', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } }];
  const nodes = opts.nodes ?? [node('4', '8Gi')];
  const pods = opts.pods ?? [];
  const of = (kind: string, items: object[]) => items.map((i) => ({ kind, ...i }));
  return [
    // The run's snapshot of the cluster-wide kinds (kube/snapshot.ts): one list, each item with its kind.
    (args) =>
      args[0] === 'get' && args.includes('--all-namespaces') && args[1]?.includes(',')
        ? { stdout: JSON.stringify({ kind: 'List', items: [...of('StorageClass', storageClasses), ...of('Node', nodes), ...of('Pod', pods)] }) }
        : undefined,
    on(['version', '--client'], {
      stdout: JSON.stringify({ clientVersion: { gitVersion: `v1.${opts.kubectlMinor ?? '33'}.9`, minor: opts.kubectlMinor ?? '33' } }),
    }),
    (args, cmd) => (cmd === 'helm' && args[0] === 'version' ? { stdout: 'v4.1.4' } : undefined),
    on(['config', 'current-context'], { stdout: `${opts.context ?? 'kind-kind'}\n` }),
    on(['version', '-o', 'json'], { stdout: JSON.stringify({ serverVersion: { major: '1', minor: '34', gitVersion: 'v1.34.10' } }) }),
    on(['get', 'storageclass'], { stdout: JSON.stringify({ items: storageClasses }) }),
    on(['get', 'nodes'], { stdout: JSON.stringify({ items: nodes }) }),
    on(['get', 'pods', '--all-namespaces'], { stdout: JSON.stringify({ items: pods }) }),
  ];
}

function fakeComponent(
  name: ComponentName,
  behaviour: {
    ms?: number;
    fail?: string;
    log?: string[];
    requests?: { cpu: string; memory: string };
    prepareMs?: number;
    clock?: { advance(ms: number): void };
  } = {},
): Component {
  const manifests = behaviour.requests
    ? [
        {
          apiVersion: 'apps/v1',
          kind: 'StatefulSet',
          metadata: { name },
          spec: { replicas: 1, template: { spec: { containers: [{ resources: { requests: behaviour.requests } }] } } },
        },
      ]
    : [];
  return {
    name,
    title: name,
    budgetMs: name === 'dapr' ? 300_000 : 600_000,
    scripts: { deploy: `deploy-${name}`, verify: `verify-${name}` },
    summaries: { deploy: `Deploys ${name}.`, verify: `Checks ${name}.` },
    deployFlags: [],
    verifyFlags: [],
    plan: async () => ({ actions: [`deploy ${name}`], manifests }),
    deploy: async (s) => {
      behaviour.log?.push(`start ${name}`);
      if (behaviour.ms) await new Promise((r) => setTimeout(r, behaviour.ms));
      if (behaviour.ms) behaviour.clock?.advance(behaviour.ms);
      behaviour.log?.push(`end ${name}`);
      if (behaviour.fail) throw new StepError(behaviour.fail, { fix: `fix ${name}` });
      s.change(`${name}`, 'unchanged');
    },
    verify: async (s) => {
      s.check(`${name} ok`, !behaviour.fail, behaviour.fail ?? 'fine');
    },
    status: async () => ({ component: name, ok: true, facts: [], endpoints: [], credentials: [] }),
    connect: () => [`${name} here`],
    owned: [{ kinds: 'statefulset', selector: `app.kubernetes.io/name=${name}` }],
    // Like the real ones: Dapr's components need Kafka and PostgreSQL.
    ...(name === 'dapr' ? { dependsOn: ['kafka', 'postgres'] as ComponentName[] } : {}),
    ...(behaviour.prepareMs !== undefined
      ? {
          prepare: async () => {
            behaviour.log?.push(`prepare ${name}`);
            await new Promise((r) => setTimeout(r, behaviour.prepareMs));
            behaviour.clock?.advance(behaviour.prepareMs!);
            behaviour.log?.push(`prepared ${name}`);
          },
        }
      : {}),
  };
}

/**
 * `kubectl get statefulset -l ...,app.kubernetes.io/name=X -o name` answers one StatefulSet X of the kit's; the
 * namespace exists, created by the kit, and holds nothing else.
 */
const ownedByName: FakeHandler = (args) => {
  if (args.includes('get') && args.includes('namespace') && args.includes('learnflow'))
    return { stdout: JSON.stringify({ kind: 'Namespace', metadata: { name: 'learnflow', labels: { 'learnflow.dev/created-by': 'learnflow-kit' } } }) };
  if (args.includes('delete')) return { stdout: args.filter((a) => a.includes('/')).join('\n') };
  if (!args.includes('get')) return undefined;
  if (args.includes('-o') && args[args.indexOf('-o') + 1] === 'json' && args.includes('-n')) return { stdout: '{"items":[]}' };
  if (!args.includes('-o') || args[args.indexOf('-o') + 1] !== 'name' || !args.includes('-l')) return undefined;
  const name = /app\.kubernetes\.io\/name=([a-z]+)/.exec(args[args.indexOf('-l') + 1]!)?.[1];
  return { stdout: name ? `statefulset.apps/${name}\n` : '' };
};

async function runMaster(def: ScriptDef, argv: string[], handlers: FakeHandler[], clock = fakeClock()) {
  const out: string[] = [];
  const err: string[] = [];
  const exec = fakeExec(
    ...handlers,
    (args) =>
      args.includes('describe') || args.includes('logs') || args.includes('events') || (args[0] === 'get' && args.includes('-n'))
        ? { stdout: '{"items":[]}' }
        : undefined,
    (_a, cmd) => (cmd === 'helm' ? { stdout: 'status' } : undefined),
  );
  // Point the outDir at a temp folder by running through createCtx via main(): main builds its own ctx,
  // so pass --json and read the report.
  const code = await main(
    { ...def, run: (ctx) => def.run({ ...ctx, outDir }) },
    argv,
    {},
    { stdout: (t) => out.push(t), stderr: (l) => err.push(l), clock, exec, tty: false },
  );
  return { code, out: out.join(''), err: err.join('\n'), exec };
}

describe('ordering and budgets', () => {
  it('every component is registered under its own name, depends only on registered ones, and names scripts on disk', () => {
    for (const [key, c] of Object.entries(COMPONENTS)) {
      expect(c.name).toBe(key);
      for (const d of c.dependsOn ?? []) expect(Object.keys(COMPONENTS), `${key} depends on ${d}`).toContain(d);
      for (const script of [c.scripts.deploy, c.scripts.verify]) expect(existsSync(path.join(REPO_ROOT, 'scripts', `${script}.mts`)), script).toBe(true);
      expect(c.budgetMs).toBeGreaterThan(0);
    }
  });

  it('runs Kafka and PostgreSQL together, then Dapr; --sequential one by one', () => {
    expect(deployStages(['kafka', 'postgres', 'dapr'], false, COMPONENTS)).toEqual([['kafka', 'postgres'], ['dapr']]);
    expect(deployStages(['dapr', 'postgres', 'kafka'], true, COMPONENTS)).toEqual([['kafka'], ['postgres'], ['dapr']]);
    expect(deployStages(['dapr'], false, COMPONENTS)).toEqual([['dapr']]);
    expect(deployStages(['postgres'], false, COMPONENTS)).toEqual([['postgres']]);
  });

  it('parses budget overrides and names a bad one', () => {
    expect(parseBudgets(['kafka=15m', 'total=40m'], COMPONENTS)).toEqual({ kafka: 900_000, postgres: 600_000, dapr: 300_000, total: 2_400_000 });
    expect(() => parseBudgets(['zookeeper=5m'], COMPONENTS)).toThrow(/'zookeeper=5m' is not NAME=DURATION with NAME one of kafka, postgres, dapr, total/);
    expect(() => parseBudgets(['kafka=soon'], COMPONENTS)).toThrow(/kafka=soon/);
  });
});

describe('capacity arithmetic', () => {
  it('parses Kubernetes quantities', () => {
    expect(parseCpu('250m')).toBe(250);
    expect(parseCpu('2')).toBe(2000);
    expect(parseCpu('1.5')).toBe(1500);
    expect(parseMemory('512Mi')).toBe(512 * 1024 ** 2);
    expect(parseMemory('1Gi')).toBe(1024 ** 3);
    expect(parseMemory('8039956Ki')).toBe(8039956 * 1024);
    expect(parseMemory('1G')).toBe(1e9);
  });

  it('sums the stack requests from rendered manifests', () => {
    expect(manifestRequests(renderPostgres('learnflow', 'x'))).toEqual({ cpuMillis: 250, memoryBytes: 256 * 1024 ** 2 });
  });

  it('subtracts what other namespaces already request, but not the stack itself, and ignores cordoned nodes', () => {
    const pods = [
      {
        metadata: { namespace: 'kube-system' },
        spec: { nodeName: 'n-4-8Gi', containers: [{ resources: { requests: { cpu: '750m', memory: '1Gi' } } }] },
        status: { phase: 'Running' },
      },
      {
        metadata: { namespace: 'learnflow' },
        spec: { nodeName: 'n-4-8Gi', containers: [{ resources: { requests: { cpu: '1', memory: '2Gi' } } }] },
        status: { phase: 'Running' },
      },
      {
        metadata: { namespace: 'old' },
        spec: { nodeName: 'n-4-8Gi', containers: [{ resources: { requests: { cpu: '1', memory: '2Gi' } } }] },
        status: { phase: 'Succeeded' },
      },
    ];
    const free = freeCapacity([node('4', '8Gi'), node('8', '16Gi', { spec: { unschedulable: true } })], pods, ['learnflow', 'dapr-system']);
    expect(free).toEqual({ cpuMillis: 3250, memoryBytes: 7 * 1024 ** 3 });
  });

  it('gives the exact command for the cluster flavour', () => {
    expect(capacityHint('minikube', { cpuMillis: 2600, memoryBytes: 5 * 1024 ** 3 })).toMatch(/^minikube delete && minikube start --cpus 4 --memory 7g/);
    expect(capacityHint('kind-kind', { cpuMillis: 2600, memoryBytes: 5 * 1024 ** 3 })).toMatch(/Docker Desktop: Settings > Resources/);
  });
});

describe('preflight verdicts (exit 3, with cause and fix)', () => {
  const ctxFor = (handlers: FakeHandler[], argv: string[] = []) => {
    const clock = fakeClock();
    const config = buildConfig(parseFlags(allFlags(deployAllScript({})), argv, {}));
    return createCtx({
      config,
      log: createLogger({ write: () => {}, tty: false, clock }),
      exec: fakeExec(...handlers),
      clock,
      secrets: new SecretRegistry(),
      signal: new AbortController().signal,
    });
  };
  const expectEnv = async (p: Promise<unknown>, message: RegExp, fix?: RegExp) => {
    const err = (await p.catch((e: unknown) => e)) as { exitCode: number; message: string; fix?: string };
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(message);
    if (fix) expect(err.fix).toMatch(fix);
  };

  it('an old kubectl', () => expectEnv(ensureTools(ctxFor(cluster({ kubectlMinor: '20' })), { helm: false }), /kubectl v1.20.9 is too old/));
  it('one kubectl version answers the tools check and the reachability check; an old client is named even when the server is down', async () => {
    const both = (minor: string, server: boolean): FakeHandler =>
      on(['version', '-o', 'json', '--request-timeout=10s'], {
        stdout: JSON.stringify({
          clientVersion: { gitVersion: `v1.${minor}.1`, minor },
          ...(server ? { serverVersion: { major: '1', minor: '34', gitVersion: 'v1.34.10' } } : {}),
        }),
        stderr: server ? '' : 'The connection to the server 127.0.0.1:1 was refused',
        exitCode: server ? 0 : 1,
      });
    const ctx = ctxFor([both('33', true)]);
    expect(await ensureTools(ctx, { helm: false })).toEqual({ kubectl: 'v1.33.1' });
    expect((await ensureClusterReachable(ctx)).gitVersion).toBe('v1.34.10');
    expect((ctx.exec as ReturnType<typeof fakeExec>).calls.map((c) => c.line)).toEqual(['kubectl version -o json --request-timeout=10s']);
    await expectEnv(ensureTools(ctxFor([both('20', false)]), { helm: false }), /kubectl v1.20.1 is too old/);
    const down = ctxFor([both('33', false), on(['config'], { stdout: '' })]);
    await expectEnv(ensureClusterReachable(down), /not reachable: The connection to the server 127.0.0.1:1 was refused/);
  });
  it('a context that is not local, unless named or --yes', async () => {
    await expectEnv(
      ensureTargetContext(ctxFor(cluster({ context: 'prod-eks' })), { yes: false }),
      /'prod-eks' does not look like a local cluster/,
      /--context prod-eks/,
    );
    expect(await ensureTargetContext(ctxFor(cluster({ context: 'prod-eks' }), ['--context', 'prod-eks']), { yes: false })).toBe('prod-eks');
    expect(await ensureTargetContext(ctxFor(cluster({ context: 'prod-eks' })), { yes: true })).toBe('prod-eks');
    expect(await ensureTargetContext(ctxFor(cluster({ context: 'minikube' })), { yes: false })).toBe('minikube');
  });
  it('no default StorageClass', () =>
    expectEnv(
      ensureDefaultStorageClass(ctxFor(cluster({ storageClasses: [{ metadata: { name: 'slow' } }] }))),
      /no default StorageClass/,
      /kubectl patch storageclass slow/,
    ));
  it('two default StorageClasses', () =>
    expectEnv(
      ensureDefaultStorageClass(
        ctxFor(
          cluster({
            storageClasses: ['a', 'b'].map((name) => ({ metadata: { name, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } })),
          }),
        ),
      ),
      /2 StorageClasses are marked default/,
    ));
  it('not enough memory, with the minikube command', () =>
    expectEnv(
      ensureCapacity(ctxFor(cluster({ nodes: [node('4', '2Gi')] })), 'minikube', { cpuMillis: 2000, memoryBytes: 4 * 1024 ** 3 }, ['learnflow']),
      /not enough memory: the stack requests 2 CPU, 4.0 GiB, the nodes can give 4 CPU, 2.0 GiB/,
      /minikube start --cpus/,
    ));
});

describe('deploy-all', () => {
  it('runs Kafka and PostgreSQL concurrently, then Dapr, and reports took vs budget', async () => {
    const log: string[] = [];
    const all = { kafka: fakeComponent('kafka', { ms: 30, log }), postgres: fakeComponent('postgres', { ms: 30, log }), dapr: fakeComponent('dapr', { log }) };
    const r = await runMaster(deployAllScript(all), ['--json'], cluster());
    expect(r.code).toBe(0);
    expect(log.slice(0, 2).sort()).toEqual(['start kafka', 'start postgres']);
    expect(log.slice(-2)).toEqual(['start dapr', 'end dapr']);
    const report = JSON.parse(r.out) as Report;
    expect(report.steps.map((s) => [s.name, s.budgetMs])).toEqual([
      ['kafka', 600_000],
      ['postgres', 600_000],
      ['dapr', 300_000],
    ]);
    expect(report.budgetMs).toBe(1_800_000);
    expect(r.err).toContain('preflight passed');
  });

  it('starts what needs no other component (the Dapr control plane) beside Kafka and PostgreSQL, and counts only its own time', async () => {
    const log: string[] = [];
    const clock = fakeClock();
    const all = {
      kafka: fakeComponent('kafka', { ms: 200, log, clock }),
      postgres: fakeComponent('postgres', { ms: 200, log }),
      dapr: fakeComponent('dapr', { log, prepareMs: 50, clock }),
    };
    const r = await runMaster(deployAllScript(all), ['--json'], cluster(), clock);
    expect(r.code, r.err).toBe(0);
    // The control plane was ready before Kafka and PostgreSQL were; the components came after both.
    expect(log.indexOf('prepared dapr')).toBeLessThan(log.indexOf('end kafka'));
    expect(log.indexOf('start dapr')).toBeGreaterThan(Math.max(log.indexOf('end kafka'), log.indexOf('end postgres')));
    const dapr = (JSON.parse(r.out) as Report).steps.find((s) => s.name === 'dapr')!;
    expect(dapr.budgetMs).toBe(300_000);
    // Its own time: its two parts (50 ms on the run's clock), not the time it waited for Kafka in between.
    expect(dapr.durationMs).toBe(50);
    expect((JSON.parse(r.out) as Report).steps.find((s) => s.name === 'kafka')!.durationMs).toBeGreaterThanOrEqual(200);
  });

  it('--sequential runs one at a time; --only/--skip pick components', async () => {
    const log: string[] = [];
    const all = { kafka: fakeComponent('kafka', { ms: 20, log }), postgres: fakeComponent('postgres', { ms: 20, log }), dapr: fakeComponent('dapr', { log }) };
    expect((await runMaster(deployAllScript(all), ['--sequential', '--skip', 'dapr'], cluster())).code).toBe(0);
    expect(log).toEqual(['start kafka', 'end kafka', 'start postgres', 'end postgres']);
    expect((await runMaster(deployAllScript(all), ['--only', 'zookeeper'], cluster())).code).toBe(2);
  });

  it('stops at the first failed stage, skips the rest, writes a diagnostics bundle and exits 1', async () => {
    const all = { kafka: fakeComponent('kafka', { fail: 'broker never became ready' }), postgres: fakeComponent('postgres'), dapr: fakeComponent('dapr') };
    const r = await runMaster(deployAllScript(all), ['--json'], cluster());
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as Report;
    expect(report.steps.map((s) => [s.name, s.status])).toEqual([
      ['kafka', 'failed'],
      ['postgres', 'done'],
      ['dapr', 'skipped'],
    ]);
    expect(report.steps[0]!.error).toMatchObject({ message: 'broker never became ready', fix: 'fix kafka' });
    const bundle = path.join(outDir, '..', report.artifacts!.diagnostics!);
    expect(r.err).toContain('diagnostics bundle');
    expect(existsSync(path.join(outDir, 'diagnostics'))).toBe(true);
    void bundle;
  });

  it('fails preflight before the clock starts: not enough resources is exit 3 and nothing is deployed', async () => {
    const log: string[] = [];
    const all = { postgres: fakeComponent('postgres', { log, requests: { cpu: '250m', memory: '6Gi' } }) };
    const r = await runMaster(deployAllScript(all), [], cluster({ nodes: [node('4', '4Gi')] }));
    expect(r.err).toMatch(/not enough memory/);
    expect(r.code).toBe(3);
    expect(log).toEqual([]);
  });

  it('a step over its budget fails the run even when it finished', async () => {
    const clock = fakeClock();
    const slow: Component = { ...fakeComponent('postgres'), deploy: async () => clock.advance(11 * 60_000) };
    const r = await runMaster(deployAllScript({ postgres: slow }), [], cluster(), clock);
    expect(r.err + r.out).toMatch(/postgres\s+11m00s\s+10m00s\s+OVER BUDGET/);
  });
});

describe('verify-all and destroy-all', () => {
  it('verify-all runs every check even after one fails, and exits 1', async () => {
    const all = { kafka: fakeComponent('kafka', { fail: 'topic missing' }), postgres: fakeComponent('postgres'), dapr: fakeComponent('dapr') };
    const r = await runMaster(verifyAllScript(all), ['--json'], cluster());
    expect(r.code).toBe(1);
    const report = JSON.parse(r.out) as Report;
    expect(report.steps.map((s) => [s.name, s.ok])).toEqual([
      ['verify-kafka', false],
      ['verify-postgres', true],
      ['verify-dapr', true],
    ]);
  });

  it('destroy-all goes in reverse order, and refuses without a terminal unless --yes', async () => {
    const all = { kafka: fakeComponent('kafka'), postgres: fakeComponent('postgres'), dapr: fakeComponent('dapr') };
    const refused = await runMaster(
      destroyAllScript(
        all,
        async () => true,
        () => false,
      ),
      [],
      cluster(),
    );
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('add --yes');
    const asked: string[] = [];
    const declined = await runMaster(
      destroyAllScript(
        all,
        async (q) => (asked.push(q), false),
        () => true,
      ),
      [],
      [ownedByName, ...cluster()],
    );
    expect(declined.code).toBe(2);
    expect(asked).toEqual(['Remove 3 object(s) of dapr, postgres, kafka from namespace learnflow (volumes and Secrets kept) in context kind-kind?']);
    const r = await runMaster(
      destroyAllScript(
        all,
        async () => true,
        () => false,
      ),
      ['--yes', '--json'],
      [ownedByName, ...cluster()],
    );
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as Report;
    expect(report.steps.map((s) => s.name)).toEqual(['destroy-dapr', 'destroy-postgres', 'destroy-kafka']);
    // Deletes by name exactly what the plan listed, each with the ownership labels in the selector.
    const deletes = r.exec.calls.filter((c) => c.args.includes('delete')).map((c) => c.args.filter((a) => a.startsWith('statefulset')));
    expect(deletes).toEqual([['statefulset.apps/dapr'], ['statefulset.apps/postgres'], ['statefulset.apps/kafka']]);
    const lists = r.exec.calls.filter((c) => c.args.includes('name') && c.args.includes('-l')).map((c) => c.args[c.args.indexOf('-l') + 1]);
    expect(lists).toEqual(expect.arrayContaining(['app.kubernetes.io/managed-by=learnflow-kit,learnflow.dev/stack=learnflow,app.kubernetes.io/name=kafka']));
  });

  it('destroy-all refuses the namespaces of Kubernetes, and --purge in default (exit 2)', async () => {
    const all = { kafka: fakeComponent('kafka'), postgres: fakeComponent('postgres'), dapr: fakeComponent('dapr') };
    for (const argv of [
      ['-n', 'kube-system', '--yes'],
      ['-n', 'default', '--purge', '--yes'],
    ]) {
      const r = await runMaster(
        destroyAllScript(
          all,
          async () => true,
          () => false,
        ),
        argv,
        [ownedByName, ...cluster()],
      );
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.exec.calls.some((c) => c.args.includes('delete'))).toBe(false);
    }
  });

  it('a non-local context: refused without --context or --yes (exit 3); --purge needs --context itself', async () => {
    const all = { kafka: fakeComponent('kafka'), postgres: fakeComponent('postgres'), dapr: fakeComponent('dapr') };
    const handlers = [ownedByName, ...cluster({ context: 'team-prod' })];
    const plain = await runMaster(
      destroyAllScript(
        all,
        async () => true,
        () => true,
      ),
      [],
      handlers,
    );
    expect(plain.code).toBe(3);
    expect(plain.err).toContain('--context team-prod');
    const yesPurge = await runMaster(
      destroyAllScript(
        all,
        async () => true,
        () => false,
      ),
      ['--yes', '--purge'],
      handlers,
    );
    expect(yesPurge.code).toBe(3);
    expect(yesPurge.err).toContain('--yes is not enough');
    expect(yesPurge.exec.calls.some((c) => c.args.includes('delete'))).toBe(false);
    const named = await runMaster(
      destroyAllScript(
        all,
        async () => true,
        () => false,
      ),
      ['--yes', '--purge', '--context', 'team-prod'],
      handlers,
    );
    expect(named.code, named.err).toBe(0);
    expect(named.err).toMatch(/target: context team-prod, namespace learnflow/);
  });
});
void readFileSync;
