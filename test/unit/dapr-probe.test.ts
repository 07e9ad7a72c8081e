// The end-to-end probe: its Job (annotations, restricted security), its shell script run for real with /bin/sh
// and curl against a fake sidecar, the result parser, the per-hop checks, the pod-state judge, and the
// orchestration over a fake kubectl.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  judgeProbePod,
  loadedComponents,
  parseProbeResult,
  PROBE_APP_ID,
  PROBE_LABEL,
  PROBE_SCRIPT,
  PROBE_TOPIC,
  probeChecks,
  renderProbeJob,
  runProbeJob,
  type ProbeResult,
} from '../../scripts/lib/components/dapr/probe.js';
import { fakeExec, fakeStep, on } from '../support/fakes.js';

const job = renderProbeJob({
  namespace: 'learnflow',
  name: 'learnflow-dapr-probe-abcd',
  marker: 'probe-abcd-123',
  image: 'curlimages/curl:8.11.1',
  activeDeadlineSeconds: 240,
}) as any;
const podSpec = job.spec.template.spec;

describe('probe Job', () => {
  it('asks for a sidecar with the seccomp annotation, the kit Configuration and seed 000 sizing', () => {
    expect(job.spec.template.metadata.annotations).toMatchObject({
      'dapr.io/enabled': 'true',
      'dapr.io/app-id': PROBE_APP_ID,
      'dapr.io/config': 'learnflow-config',
      'dapr.io/sidecar-seccomp-profile-type': 'RuntimeDefault',
      'dapr.io/sidecar-memory-limit': '200Mi',
    });
    expect(job.spec.template.metadata.labels[PROBE_LABEL]).toBe('learnflow-dapr-probe-abcd');
  });

  it('turns off the built-in Kubernetes secret store daprd cannot start without a service-account token', () => {
    // daprd in Kubernetes mode adds the store unless this annotation says no, and exits when it fails to initialise
    // (dapr/dapr v1.18.3 pkg/runtime/runtime.go appendBuiltinSecretStore): without it the probe can never pass.
    expect(podSpec.automountServiceAccountToken).toBe(false);
    expect(job.spec.template.metadata.annotations['dapr.io/disable-builtin-k8s-secret-store']).toBe('true');
  });

  it('runs once, never longer than its deadline, and cleans itself up even if the kit dies', () => {
    expect(job.spec).toMatchObject({ backoffLimit: 0, activeDeadlineSeconds: 240, ttlSecondsAfterFinished: 300 });
    expect(podSpec.restartPolicy).toBe('Never');
  });

  it('meets Pod Security "restricted" and reports through the termination message', () => {
    const c = podSpec.containers[0];
    expect(podSpec.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(c.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      runAsUser: 65532,
    });
    expect(c).toMatchObject({ terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File' });
    expect(podSpec.automountServiceAccountToken).toBe(false);
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: 'M', value: 'probe-abcd-123' },
        { name: 'TOPIC', value: PROBE_TOPIC },
      ]),
    );
  });
});

// --------------------------------------------------------------------------- the script, for real

interface FakeSidecar {
  port: number;
  calls: string[];
  bodies: Record<string, string>;
  close(): Promise<void>;
}

async function fakeSidecar(behaviour: { healthy?: boolean; publish?: [number, string]; components?: string[] } = {}): Promise<FakeSidecar> {
  const calls: string[] = [];
  const bodies: Record<string, string> = {};
  const state = new Map<string, string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const route = `${req.method} ${req.url}`;
      calls.push(route);
      if (body) bodies[route] = body;
      const send = (code: number, text = '') => {
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(text);
      };
      if (route === 'GET /v1.0/healthz/outbound') return send(behaviour.healthy === false ? 500 : 204);
      if (route === 'GET /v1.0/metadata') {
        const comps = (behaviour.components ?? ['kafka-pubsub=pubsub.kafka', 'statestore=state.postgresql']).map((c) => {
          const [name, type] = c.split('=');
          return { name, type, version: 'v1', capabilities: ['ETAG'] };
        });
        return send(200, JSON.stringify({ id: PROBE_APP_ID, runtimeVersion: '1.18.3', components: comps, subscriptions: [] }));
      }
      if (req.method === 'POST' && req.url === '/v1.0/state/statestore') {
        for (const item of JSON.parse(body) as { key: string; value: unknown }[]) state.set(item.key, JSON.stringify(item.value));
        return send(204);
      }
      if (req.method === 'GET' && req.url?.startsWith('/v1.0/state/statestore/')) {
        const v = state.get(req.url.split('/').pop()!);
        return v ? send(200, v) : send(204);
      }
      if (req.method === 'DELETE') return send(204);
      if (req.method === 'POST' && req.url?.startsWith('/v1.0/publish/kafka-pubsub/')) {
        const [code, text] = behaviour.publish ?? [204, ''];
        return send(code, text);
      }
      if (route === 'POST /v1.0/shutdown') return send(204);
      send(404, '{"errorCode":"ERR_NOT_FOUND"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, calls, bodies, close: () => new Promise((r) => server.close(() => r())) };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'dapr-probe-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs PROBE_SCRIPT as the pod would (/bin/sh -c, env from the Job), with the result file redirected. */
function runScript(port: number, marker: string, wait = 5): Promise<{ code: number | null; result: string; stderr: string }> {
  const resultFile = path.join(dir, `${marker}.json`);
  const env = {
    ...Object.fromEntries(job.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value])),
    M: marker,
    WAIT: String(wait),
    DAPR_HTTP_PORT: String(port),
    RESULT_FILE: resultFile,
    PATH: process.env.PATH!,
  };
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', PROBE_SCRIPT], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, result: readFileSync(resultFile, 'utf8'), stderr }));
  });
}

describe('probe script (/bin/sh + curl against a fake sidecar)', () => {
  it('walks every hop, returns parseable JSON under 4 KiB and shuts the sidecar down', async () => {
    const sidecar = await fakeSidecar();
    try {
      const r = await runScript(sidecar.port, 'probe-ok-1');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.result.length).toBeLessThan(4096);
      const parsed = parseProbeResult(r.result, 'probe-ok-1');
      expect(parsed.hops.map((h) => [h.hop, h.ok, h.code])).toEqual([
        ['sidecar', true, 204],
        ['metadata', true, 200],
        ['state-save', true, 204],
        ['state-get', true, 200],
        ['publish', true, 204],
      ]);
      expect(probeChecks(parsed, false).every((c) => c.ok)).toBe(true);
      expect(sidecar.calls.at(-1)).toBe('POST /v1.0/shutdown');
      expect(sidecar.calls).toContain('DELETE /v1.0/state/statestore/probe-ok-1');
      expect(JSON.parse(sidecar.bodies[`POST /v1.0/publish/kafka-pubsub/${PROBE_TOPIC}`]!)).toEqual({ marker: 'probe-ok-1' });
    } finally {
      await sidecar.close();
    }
  });

  it('names the failing hop and carries the sidecar error, quotes and all, in valid JSON', async () => {
    const sidecar = await fakeSidecar({
      publish: [500, '{"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE","message":"error when publish to topic \\"t\\": kafka: tab\there \\\\ back"}'],
    });
    try {
      const parsed = parseProbeResult((await runScript(sidecar.port, 'probe-pub-2')).result, 'probe-pub-2');
      const publish = parsed.hops.find((h) => h.hop === 'publish')!;
      expect(publish).toMatchObject({ ok: false, code: 500 });
      expect(publish.detail).toContain('ERR_PUBSUB_PUBLISH_MESSAGE');
      const checks = probeChecks(parsed, false);
      expect(checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['probe: publish through kafka-pubsub']);
      expect(checks.find((c) => !c.ok)!.detail).toMatch(/^HTTP 500: .*ERR_PUBSUB_PUBLISH_MESSAGE/);
    } finally {
      await sidecar.close();
    }
  });

  it('gives up on a sidecar that never gets healthy, says so, and still ends', async () => {
    const sidecar = await fakeSidecar({ healthy: false });
    try {
      const parsed = parseProbeResult((await runScript(sidecar.port, 'probe-sick-3', 2)).result, 'probe-sick-3');
      expect(parsed.hops).toEqual([{ hop: 'sidecar', ok: false, code: 500, detail: expect.stringContaining('no healthy sidecar') }]);
      const checks = probeChecks(parsed, false);
      expect(checks[0]).toMatchObject({ name: 'probe: sidecar healthy', ok: false });
      expect(checks.slice(1).every((c) => !c.ok && c.detail.startsWith("not attempted: 'probe: sidecar healthy' failed"))).toBe(true);
    } finally {
      await sidecar.close();
    }
  });

  it('reports nothing listening as code 0, not as invalid JSON', async () => {
    const sidecar = await fakeSidecar();
    const port = sidecar.port;
    await sidecar.close();
    const parsed = parseProbeResult((await runScript(port, 'probe-none-4', 1)).result, 'probe-none-4');
    expect(parsed.hops[0]).toMatchObject({ hop: 'sidecar', ok: false, code: 0 });
  });

  it('sees a missing component in the metadata', async () => {
    const sidecar = await fakeSidecar({ components: ['kafka-pubsub=pubsub.kafka'] });
    try {
      const checks = probeChecks(parseProbeResult((await runScript(sidecar.port, 'probe-meta-5')).result, 'probe-meta-5'), false);
      expect(checks.find((c) => c.name === 'probe: components loaded')).toMatchObject({
        ok: false,
        detail: expect.stringContaining('not loaded: statestore (state.postgresql)'),
      });
    } finally {
      await sidecar.close();
    }
  });
});

// --------------------------------------------------------------------------- parser and checks

const ok = (marker = 'm1'): ProbeResult => ({
  marker,
  hops: [
    { hop: 'sidecar', ok: true, code: 204, detail: 'outbound healthy after 3s' },
    { hop: 'metadata', ok: true, code: 200, detail: 'kafka-pubsub=pubsub.kafka statestore=state.postgresql ' },
    { hop: 'state-save', ok: true, code: 204, detail: '' },
    { hop: 'state-get', ok: true, code: 200, detail: '{"marker":"m1"}' },
    { hop: 'publish', ok: true, code: 204, detail: '' },
  ],
});

describe('probe result parser', () => {
  it('reads a result and rejects empty, truncated, foreign and malformed ones', () => {
    expect(parseProbeResult(JSON.stringify({ v: 1, ...ok() }), 'm1')).toEqual(ok());
    expect(() => parseProbeResult(undefined, 'm1')).toThrow(/without a result/);
    expect(() => parseProbeResult('{"v":1,"marker":"m1","hops":[{"hop":"side', 'm1')).toThrow(/not JSON \(truncated\?\)/);
    expect(() => parseProbeResult(JSON.stringify({ v: 1, ...ok('m2') }), 'm1')).toThrow(/another run/);
    expect(() => parseProbeResult('{"v":2,"marker":"m1","hops":[]}', 'm1')).toThrow(/unexpected probe result/);
    expect(() => parseProbeResult('{"v":1,"marker":"m1","hops":[{"ok":true}]}', 'm1')).toThrow(/malformed hop/);
  });

  it('lists loaded components and checks the Redis scope', () => {
    expect([...loadedComponents('a=pubsub.kafka b=state.redis ')]).toEqual([
      ['a', 'pubsub.kafka'],
      ['b', 'state.redis'],
    ]);
    expect(probeChecks(ok(), true).find((c) => c.name === 'probe: components loaded')).toMatchObject({
      ok: true,
      detail: expect.stringContaining('statestore-redis hidden (scoped)'),
    });
    const leaked = ok();
    leaked.hops[1]!.detail += 'statestore-redis=state.redis';
    expect(probeChecks(leaked, true).find((c) => c.name === 'probe: components loaded')).toMatchObject({
      ok: false,
      detail: expect.stringContaining('its scope is not applied'),
    });
  });
});

// --------------------------------------------------------------------------- pod states

const pod = (over: Record<string, unknown> = {}, containers = ['probe', 'daprd'], statuses: unknown[] = []) =>
  ({
    metadata: { name: 'p-1', namespace: 'learnflow' },
    spec: { containers: containers.map((name) => ({ name })) },
    status: { phase: 'Running', containerStatuses: statuses, ...over },
  }) as any;

describe('probe pod judge', () => {
  it('waits while there is no pod or it is starting', () => {
    expect(judgeProbePod(undefined, 'learnflow')).toEqual({ kind: 'waiting', state: 'no pod yet' });
    expect(judgeProbePod(pod({ phase: 'Pending' }), 'learnflow').kind).toBe('waiting');
  });

  it('names the injection hop when no daprd container was added', () => {
    expect(judgeProbePod(pod({}, ['probe']), 'learnflow')).toMatchObject({
      kind: 'failed',
      hop: 'sidecar injection',
      fix: expect.stringContaining('--skip-probe'),
    });
  });

  it('accepts daprd as a native sidecar (an init container)', () => {
    const p = pod({}, ['probe']);
    p.spec.initContainers = [{ name: 'daprd' }];
    expect(judgeProbePod(p, 'learnflow').kind).toBe('waiting');
  });

  it('is done when the probe container terminated, with its message', () => {
    const v = judgeProbePod(pod({}, undefined, [{ name: 'probe', ready: false, state: { terminated: { exitCode: 0, message: '{"v":1}' } } }]), 'learnflow');
    expect(v).toEqual({ kind: 'done', message: '{"v":1}' });
  });

  it('names the sidecar when daprd exited (a component that cannot initialise)', () => {
    const v = judgeProbePod(pod({}, undefined, [{ name: 'daprd', ready: false, state: { terminated: { exitCode: 1, reason: 'Error' } } }]), 'dev');
    expect(v).toMatchObject({
      kind: 'failed',
      hop: 'sidecar',
      detail: expect.stringContaining('daprd exited with code 1'),
      fix: expect.stringContaining('kubectl logs -n dev p-1 -c daprd'),
    });
    // The cause a tokenless pod meets is named, not only Kafka or PostgreSQL.
    expect(v.kind === 'failed' && v.detail).toContain('dapr.io/disable-builtin-k8s-secret-store');
  });

  it('names the image pull when the image cannot be pulled', () => {
    const v = judgeProbePod(
      pod({}, undefined, [
        { name: 'probe', ready: false, image: 'curlimages/curl:0.0.0', state: { waiting: { reason: 'ImagePullBackOff', message: 'not found' } } },
      ]),
      'learnflow',
    );
    expect(v).toMatchObject({ kind: 'failed', hop: 'image pull', detail: expect.stringContaining('ImagePullBackOff') });
  });
});

// --------------------------------------------------------------------------- orchestration over fake kubectl

function stepFor(exec: ReturnType<typeof fakeExec>) {
  return fakeStep(exec, { outDir: dir, root: dir });
}

describe('runProbeJob', () => {
  it('applies the Job, reads the result from the pod status (no kubectl logs) and deletes the Job at cleanup', async () => {
    let marker = '';
    let polls = 0;
    const exec = fakeExec(
      on(['get', '-f', '-'], { stdout: '' }),
      on(['apply', '--server-side'], (_args, opts) => {
        const j = JSON.parse(opts.input!) as any;
        marker = j.spec.template.spec.containers[0].env.find((e: any) => e.name === 'M').value;
        return { stdout: JSON.stringify({ ...j, metadata: { ...j.metadata, resourceVersion: '1' } }) };
      }),
      on(['get', 'pod'], () => {
        polls++;
        const statuses =
          polls < 2 ? [] : [{ name: 'probe', ready: false, state: { terminated: { exitCode: 0, message: JSON.stringify({ v: 1, ...ok(marker) }) } } }];
        return { stdout: JSON.stringify({ items: [pod({}, undefined, statuses)] }) };
      }),
      on(['delete', 'job'], { stdout: '' }),
    );
    const step = stepFor(exec);
    const result = await runProbeJob(step, { image: 'curlimages/curl:8.11.1', timeoutMs: 30_000 });
    expect(result.marker).toBe(marker);
    expect(probeChecks(result, false).every((c) => c.ok)).toBe(true);
    expect(exec.calls.some((c) => c.args.includes('logs'))).toBe(false);
    expect(exec.calls.find((c) => c.args.includes('pod'))!.line).toMatch(/-l learnflow\.dev\/dapr-probe=learnflow-dapr-probe-[0-9a-f]{8}/);
    await step.cleanup.run();
    expect(exec.calls.at(-1)!.line).toMatch(/^kubectl delete job learnflow-dapr-probe-[0-9a-f]{8} -n learnflow --ignore-not-found/);
  });

  it('fails fast naming the hop when the pod gets no sidecar', async () => {
    const exec = fakeExec(
      on(['get', '-f', '-'], { stdout: '' }),
      on(['apply', '--server-side'], (_a, opts) => ({ stdout: opts.input! })),
      on(['get', 'pod'], { stdout: JSON.stringify({ items: [pod({}, ['probe'])] }) }),
    );
    await expect(runProbeJob(stepFor(exec), { image: 'x', timeoutMs: 30_000 })).rejects.toThrow(/probe failed at hop 'sidecar injection'/);
  });
});
