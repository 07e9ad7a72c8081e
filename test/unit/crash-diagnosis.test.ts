// What a crashed or memory-killed container is reported with: the limit and heap that explain an OOMKilled, the
// container's last log lines under the step's error, and one copy of a crash-looping container's last run in the
// diagnostics bundle. The real node shows the same faults end to end (test/e2e/real-node.e2e.test.ts).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeDiagnostics } from '../../scripts/lib/run/diagnostics-bundle.js';
import { diagnosePod, jvmMaxHeap, type PodJson } from '../../scripts/lib/kube/pod-diagnosis.js';
import { quantityBytes } from '../../scripts/lib/kube/quantity.js';
import { CRASH_LOG_LINES, waitForWorkload } from '../../scripts/lib/run/rollout.js';
import { StepError } from '../../scripts/lib/core/errors.js';
import { fakeExec, fakeStep, on } from '../support/fakes.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../fixtures/pods/${name}.json`, import.meta.url), 'utf8')) as PodJson;
const withContainer = (pod: PodJson, memory: string | undefined, env: { name: string; value: string }[] = []): PodJson => ({
  ...pod,
  spec: { containers: [{ name: 'kafka', resources: memory ? { limits: { memory } } : {}, env }] },
});

describe('OOMKilled names the limit and the heap', () => {
  it("a JVM heap that does not fit in the container's own limit is named as the cause, with where the limit came from", () => {
    const d = diagnosePod(withContainer(fixture('crashloop-oom'), '256Mi', [{ name: 'KAFKA_HEAP_OPTS', value: '-Xms512m -Xmx512m' }]));
    expect(d.fix).toContain('killed at its own memory limit');
    expect(d.fix).toContain('its JVM heap (-Xmx512m, from KAFKA_HEAP_OPTS) does not fit in its limit of 256Mi');
    expect(d.fix).toContain('kubectl get limitrange -n learnflow');
    expect(d.fix).not.toContain('give the cluster more memory');
  });

  it('a heap well inside the limit: both causes, the limit named', () => {
    const d = diagnosePod(withContainer(fixture('crashloop-oom'), '2Gi', [{ name: 'KAFKA_HEAP_OPTS', value: '-Xms512m -Xmx512m' }]));
    expect(d.fix).toBe(
      'container kafka was killed for memory (its limit: 2Gi, JVM heap -Xmx512m from KAFKA_HEAP_OPTS): if it used all of its limit, raise the limit; if the node ran out first, give the cluster more memory (docs: not-enough-resources)',
    );
  });

  it('no limit: the node ran out', () => {
    expect(diagnosePod(withContainer(fixture('crashloop-oom'), undefined)).fix).toMatch(/^container kafka has no memory limit, so the node ran out of memory/);
  });

  it('heap and quantity parsing', () => {
    expect(
      jvmMaxHeap([
        { name: 'KAFKA_HEAP_OPTS', value: '-Xmx1g' },
        { name: 'JAVA_TOOL_OPTIONS', value: '-Xmx256m' },
      ]),
    ).toEqual({ flag: '-Xmx256m', bytes: 256 * 2 ** 20, from: 'JAVA_TOOL_OPTIONS' });
    expect(jvmMaxHeap([{ name: 'OTHER', value: '-Xmx1g' }])).toBeUndefined();
    expect(quantityBytes('256Mi')).toBe(256 * 2 ** 20);
    expect(quantityBytes('2Gi')).toBe(2 * 2 ** 30);
    expect(quantityBytes('512M')).toBe(512e6);
    expect(quantityBytes('1e9')).toBe(1e9);
    expect(quantityBytes('lots')).toBeUndefined();
  });
});

const crashList = (pod: PodJson) =>
  JSON.stringify({
    items: [
      {
        kind: 'StatefulSet',
        metadata: { name: 'kafka', generation: 1 },
        spec: { replicas: 1 },
        status: { observedGeneration: 1, replicas: 1, readyReplicas: 0, updatedReplicas: 1 },
      },
      { kind: 'Pod', ...pod },
    ],
  });

describe('a step that fails on a crashed container carries its last log lines', () => {
  it("CrashLoopBackOff: the previous run's last lines, from kubectl logs --previous, scrubbed, under the error", async () => {
    const exec = fakeExec(
      on(['get', 'statefulset,pod'], { stdout: crashList(fixture('crashloop')) }),
      on(['logs', 'kafka-0', '-c', 'kafka', '--previous', `--tail=${CRASH_LOG_LINES}`], { stdout: 'line one\nERROR password=hunter2-secret\nKilled\n' }),
    );
    const step = fakeStep(exec);
    step.secrets.add('hunter2-secret');
    const err = await waitForWorkload(step, { kind: 'statefulset', name: 'kafka', selector: 'app=kafka' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    const message = (err as StepError).message;
    expect(message).toContain('statefulset/kafka cannot become ready: pod kafka-0 is container kafka: CrashLoopBackOff');
    expect(message).toContain(`its last log lines (kubectl logs kafka-0 -c kafka -n learnflow --previous --tail=${CRASH_LOG_LINES}):\n    line one\n`);
    expect(message).toContain('    Killed');
    expect(message).not.toContain('hunter2-secret');
  });

  it('no previous logs to get: the error alone, no empty heading', async () => {
    const exec = fakeExec(
      on(['get', 'statefulset,pod'], { stdout: crashList(fixture('crashloop')) }),
      on(['logs'], { stderr: 'previous terminated container not found', exitCode: 1 }),
    );
    const err = (await waitForWorkload(fakeStep(exec), { kind: 'statefulset', name: 'kafka', selector: 'app=kafka' }).catch((e: unknown) => e)) as StepError;
    expect(err.message).toMatch(/CrashLoopBackOff, \d+ restarts$/);
  });
});

describe('the diagnostics bundle', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lf-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("holds a crash-looping container's last run once (plain logs and --previous are the same run then), and both runs of a restarted running one", async () => {
    const waiting = fixture('crashloop-oom');
    const running: PodJson = {
      metadata: { name: 'postgresql-0', namespace: 'learnflow' },
      status: {
        phase: 'Running',
        containerStatuses: [
          { name: 'postgresql', ready: true, restartCount: 1, state: { running: {} }, lastState: { terminated: { reason: 'Error', exitCode: 1 } } },
        ],
      },
    };
    const exec = fakeExec(
      on(['get', 'pods', '-o', 'json'], { stdout: JSON.stringify({ items: [waiting, running] }) }),
      on(['logs', 'kafka-0', '--previous'], { stdout: 'kafka last run\n' }),
      on(['logs', 'postgresql-0', '--previous'], { stdout: 'postgres earlier run\n' }),
      on(['logs', 'postgresql-0'], { stdout: 'postgres current run\n' }),
      on(['get'], { stdout: '' }),
      on(['describe'], { stdout: '' }),
    );
    const step = fakeStep(exec, { outDir: dir });
    const out = await writeDiagnostics(step, { namespaces: ['learnflow'] });
    const kafka = readFileSync(path.join(out, 'logs', 'learnflow_kafka-0_kafka.log'), 'utf8');
    expect(kafka).toBe('# previous container (the last run; the container is CrashLoopBackOff now)\nkafka last run\n');
    expect(exec.calls.filter((c) => c.args.includes('logs') && c.args.includes('kafka-0'))).toHaveLength(1);
    const postgres = readFileSync(path.join(out, 'logs', 'learnflow_postgresql-0_postgresql.log'), 'utf8');
    expect(postgres).toBe('postgres current run\n\n# previous container\npostgres earlier run\n');
  });
});
