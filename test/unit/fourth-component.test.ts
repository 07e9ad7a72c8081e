// "A fourth component follows": a toy component (test/fixtures/components/toy.ts), registered beside the real
// three and nothing else touched, shows up in deploy-all's help, budgets and stages, the dry-run plan, the image
// list, status, destroy-all and port-forward.mts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main, type ScriptDef } from '../../scripts/lib/cli/run.js';
import { COMPONENTS, deployStages } from '../../scripts/lib/components/index.js';
import type { Report } from '../../scripts/lib/core/report.js';
import { collectImages, imagesScript } from '../../scripts/lib/tools/images.js';
import { portForwardScript } from '../../scripts/lib/tools/port-forward.js';
import { statusScript } from '../../scripts/lib/tools/status.js';
import { deployAllScript, destroyAllScript, parseBudgets, verifyAllScript } from '../../scripts/lib/workflows/deploy-verify-all.js';
import { createCtx } from '../../scripts/lib/run/context.js';
import { CREATED_BY_LABEL, MANAGED_BY } from '../../scripts/lib/kube/manifests.js';
import { buildConfig } from '../../scripts/lib/core/config.js';
import { memoryLogger, SecretRegistry } from '../../scripts/lib/core/log.js';
import { TOY_HORN_IMAGE, TOY_IMAGE, TOY_SELECTOR, toy } from '../fixtures/components/toy.js';
import { fakeClock, fakeExec, fakeStep, on, type FakeHandler } from '../support/fakes.js';
import { dependenciesOf, requireDependenciesDeployed } from '../../scripts/lib/components/dapr/controlplane.js';

const registry = { ...COMPONENTS, toy };
const outDir = mkdtempSync(path.join(tmpdir(), 'lf-toy-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/** A cluster that answers every read with nothing, except the toy's own Deployment for destroy-all. */
const emptyCluster: FakeHandler = (args, cmd) => {
  if (cmd === 'helm') return { stdout: args[0] === 'version' ? 'v4.1.4' : '[]' };
  const l = args.indexOf('-l');
  if (args.includes('-o') && args[args.indexOf('-o') + 1] === 'name')
    return { stdout: l >= 0 && args[l + 1]!.includes(TOY_SELECTOR) && args.includes('deployment') ? 'deployment.apps/toy\n' : '' };
  if (args[0] === 'config' && args[1] === 'current-context') return { stdout: 'kind-kind\n' };
  if (args[0] === 'version')
    return { stdout: JSON.stringify({ clientVersion: { minor: '33', gitVersion: 'v1.33.9' }, serverVersion: { minor: '34', gitVersion: 'v1.34.10' } }) };
  return { stdout: '{"kind":"List","items":[]}' };
};

async function run(def: ScriptDef, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    { ...def, run: (ctx) => def.run({ ...ctx, outDir }) },
    argv,
    {},
    {
      stdout: (t) => out.push(t),
      stderr: (l) => err.push(l),
      clock: fakeClock(),
      exec: fakeExec(emptyCluster),
      tty: false,
    },
  );
  return { code, out: out.join(''), err: err.join('\n') };
}

describe('a fourth component, registered and nothing else touched', () => {
  it("is in deploy-all's help: its budget, its stage, --only and its own flags", async () => {
    const r = await run(deployAllScript(registry), ['--help']);
    expect(r.code).toBe(0);
    const help = r.out + r.err;
    expect(help).toContain('Toy 2m');
    expect(help).toMatch(/Kafka and PostgreSQL together, then Dapr and Toy together/);
    expect(help).toContain('--toy-loud');
    expect((await run(verifyAllScript(registry), ['--help'])).out).toContain('Toy');
  });

  it('has a budget --budget can set, and a stage after what it depends on', async () => {
    expect(parseBudgets(['toy=3m'], registry).toy).toBe(180_000);
    expect(deployStages(Object.keys(registry), false, registry)).toEqual([
      ['kafka', 'postgres'],
      ['dapr', 'toy'],
    ]);
    const bad = await run(deployAllScript(registry), ['--dry-run', '--budget', 'toys=3m']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('kafka, postgres, dapr, toy, total');
  });

  it("is in deploy-all's dry-run plan with its actions and budget; --only toy runs it alone", async () => {
    const r = await run(deployAllScript(registry), ['--dry-run', '--json']);
    expect(r.code, r.err).toBe(0);
    const report = JSON.parse(r.out) as Report & { steps: { name: string; budgetMs: number; actions?: string[] }[] };
    const step = report.steps.find((s) => s.name === 'toy');
    expect(step?.budgetMs).toBe(120_000);
    expect(step?.actions).toContain('apply deployment/toy in learnflow');
    const only = await run(deployAllScript(registry), ['--dry-run', '--json', '--only', 'toy']);
    expect(only.code, only.err).toBe(0);
    expect((JSON.parse(only.out) as Report).steps.map((s) => s.name)).toEqual(['toy']);
    expect(only.err).toContain('deploy-all plan (total budget 30m00s): toy');
  });

  it('is verified by verify-all, alone with --only toy and after what it depends on otherwise', async () => {
    const only = await run(verifyAllScript(registry), ['--json', '--only', 'toy']);
    expect(only.code, only.err).toBe(0);
    const report = JSON.parse(only.out) as Report;
    expect(report.steps.map((s) => s.name)).toEqual(['verify-toy']);
    expect(report.steps[0]!.checks).toEqual([{ name: 'toy ready', ok: true, detail: 'fine' }]);
    const all = JSON.parse((await run(verifyAllScript(registry), ['--json'])).out) as Report;
    expect(all.steps.map((s) => s.name)).toEqual(['verify-kafka', 'verify-postgres', 'verify-dapr', 'verify-toy']);
  });

  it('has its image in the image list', async () => {
    const ctx = createCtx({
      config: buildConfig({ values: { namespace: 'learnflow' }, given: new Set(), positionals: [] }),
      log: memoryLogger(),
      exec: fakeExec(emptyCluster),
      clock: fakeClock(),
      secrets: new SecretRegistry(),
      signal: new AbortController().signal,
    });
    const { images } = await collectImages(ctx, Object.values(registry));
    expect(images.find((i) => i.image === TOY_IMAGE)).toMatchObject({ component: 'toy', source: 'Deployment/toy' });
    const script = imagesScript(Object.values(registry));
    expect((await run(script, ['--help'])).out).toContain('also list the horn a loud toy pulls');
    expect((await run(script, ['--names'])).out).not.toContain(TOY_HORN_IMAGE);
    expect((await run(script, ['--names', '--toy-loud'])).out).toContain(TOY_HORN_IMAGE);
  });

  it('has its section in status', async () => {
    const r = await run(statusScript(Object.values(registry)), ['--no-data', '--json']);
    expect(r.code, r.err).toBe(0);
    const sections = (JSON.parse(r.out) as { data: { status: { component: string; facts: string[] }[] } }).data.status;
    expect(sections.find((s) => s.component === 'Toy')?.facts).toEqual(['toy 1.2.3: 1/1 ready']);
  });

  it("is waited for by what depends on it: the gate (Dapr's) reads its readiness from the registry", async () => {
    const deps = dependenciesOf([COMPONENTS.postgres, registry.toy]);
    expect(deps.map((d) => `${d.title}: ${d.kind}/${d.name}`)).toEqual(['PostgreSQL: statefulset/postgresql', 'Toy: deployment/toy']);
    const onlyPostgres = on(['get', 'statefulset,deployment,pod'], {
      stdout: JSON.stringify({
        items: [{ kind: 'StatefulSet', metadata: { name: 'postgresql' }, spec: { replicas: 1 }, status: { readyReplicas: 1, updatedReplicas: 1 } }],
      }),
    });
    const err = (await requireDependenciesDeployed(fakeStep(fakeExec(onlyPostgres)), deps).catch((e: unknown) => e)) as Error & { fix?: string };
    expect(err.message).toMatch(/^refusing to apply the Dapr components: Toy is not deployed in learnflow\./);
    expect(err.fix).toMatch(/^\.\/scripts\/deploy-toy\.mts --namespace learnflow, then re-run/);
  });

  it("is forwarded by port-forward.mts: a choice of --only, and in start's --dry-run plan beside the others", async () => {
    const help = (await run(portForwardScript(undefined, registry), ['--help'])).out.replace(/\s+/g, ' ');
    expect(help).toContain('forward only these (default: whatever of PostgreSQL, Toy and Kafka is deployed) (one of: postgres, toy, kafka)');
    expect(help).toContain('127.0.0.1:18080 -> svc/toy:80');
    const plan = await run(portForwardScript(undefined, registry), ['start', '--dry-run']);
    expect(plan.code, plan.err).toBe(0);
    expect(plan.out).toContain('ConfigMap/learnflow-stack), service/postgresql, service/toy and statefulset/kafka in namespace learnflow');
    expect(plan.out).toContain('#   127.0.0.1:18080 -> svc/toy:80 (if the service exists)');
    const only = await run(portForwardScript(undefined, registry), ['start', '--dry-run', '--only', 'toy']);
    expect(only.code, only.err).toBe(0);
    expect(only.out.split('\n').filter((l) => l.startsWith('#   '))).toEqual(['#   127.0.0.1:18080 -> svc/toy:80 (if the service exists)']);
  });

  it('is removed first by destroy-all (reverse order), its own objects only', async () => {
    const r = await run(destroyAllScript(registry), ['--dry-run']);
    expect(r.code, r.err).toBe(0);
    expect(r.out + r.err).toContain('deployment.apps/toy');
    const help = (await run(destroyAllScript(registry), ['--help'])).out;
    expect(help).toMatch(/reverse\s+order \(Toy, then Dapr, then PostgreSQL, then Kafka\)/);
  });

  it("keeps with --purge a namespace the kit created that holds a user's object of a kind the toy declares", async () => {
    const looked: string[] = [];
    const cluster: FakeHandler = (args, cmd, opts) => {
      if (args[0] === 'get' && args[1] === 'namespace')
        return {
          stdout: JSON.stringify({ kind: 'Namespace', metadata: { name: 'learnflow', labels: { [CREATED_BY_LABEL]: MANAGED_BY } } }),
        };
      if (args[0] === 'get' && args.includes('json') && !args.includes('-l')) looked.push(args[1]!);
      if (args[0] === 'get' && args[1] === 'widgets.toy.example')
        return { stdout: JSON.stringify({ kind: 'List', items: [{ kind: 'Widget', metadata: { name: 'mine' } }] }) };
      return emptyCluster(args, cmd, opts);
    };
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      destroyAllScript(registry),
      ['--dry-run', '--purge', '--json'],
      {},
      {
        stdout: (t) => out.push(t),
        stderr: (l) => err.push(l),
        clock: fakeClock(),
        exec: fakeExec(cluster),
        tty: false,
      },
    );
    expect(code, err.join('\n')).toBe(0);
    expect(looked).toContain('components.dapr.io,configurations.dapr.io,resiliencies.dapr.io,subscriptions.dapr.io');
    const plan = (JSON.parse(out.join('')) as { data: { plan: { namespace: { delete: boolean; why: string } } } }).data.plan;
    expect(plan.namespace).toEqual({ delete: false, why: 'it holds 1 object(s) the kit does not own: widget/mine' });
  });
});
