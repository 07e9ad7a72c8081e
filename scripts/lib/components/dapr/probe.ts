// The end-to-end probe: a short Job whose pod gets a Dapr sidecar and calls it over HTTP (outbound health, metadata,
// state save and read-back, a publish through kafka-pubsub); then the kit consumes the message from Kafka. The result
// comes back as JSON in the pod's termination message, so it works where `kubectl logs` cannot reach. A failure names
// its hop. The Job is deleted afterwards (cleanup stack), with a TTL as a backstop.

import { randomBytes } from 'node:crypto';
import type { StepCtx } from '../../run/context.js';
import { diagnosePod, type PodJson } from '../../kube/pod-diagnosis.js';
import { docsLink, errorMessage, KitError, StepError } from '../../core/errors.js';
import type { Manifest } from '../../kube/manifests.js';
import { TerminalTracker } from '../../run/rollout.js';
import { waitFor } from '../../core/wait.js';
import { connectKafka, consumeUntil, ensureOwnTopic, explainKafkaError, openEndpoint, type KafkaSession } from '../shared/kafka-client.js';
import { PROBE_GROUP_PREFIX } from '../shared/kafka-topology.js';
import { expectedComponents } from './manifests.js';
import { CONFIGURATION, PUBSUB, REDIS_STATESTORE, STATESTORE } from './settings.js';

/** A topic of its own (the broker does not auto-create topics): one partition, kept for an hour. */
export const PROBE_TOPIC = 'learnflow.dapr-probe';
export const PROBE_APP_ID = 'learnflow-dapr-probe';
export const PROBE_LABEL = 'learnflow.dev/dapr-probe';
export const PROBE_CONTAINER = 'probe';
/** Seconds the script waits for the sidecar's outbound health (components initialised). */
export const SIDECAR_WAIT_S = 90;

/**
 * POSIX sh + curl (busybox tools only: no jq, no files: the root filesystem is read-only). Each hop appends
 * {"hop","ok","code","detail"}; the JSON goes to /dev/termination-log (kubelet keeps up to 4 KiB), details are
 * cut to 200 characters. It always ends by asking the sidecar to shut down, or the Job would never complete.
 */
export const PROBE_SCRIPT = String.raw`set -u
B="http://127.0.0.1:${'$'}{DAPR_HTTP_PORT:-3500}"
R=""
esc() { printf '%s' "$1" | tr '\r\n\t' '   ' | sed 's/\\/\\\\/g; s/"/\\"/g' | cut -c1-200; }
num() { n=$(printf '%s' "$1" | sed 's/[^0-9]//g; s/^0*//'); printf '%s' "${'$'}{n:-0}"; }
hop() { R="$R${'$'}{R:+,}{\"hop\":\"$1\",\"ok\":$2,\"code\":$(num "$3"),\"detail\":\"$(esc "$4")\"}"; }
call() {
  if [ $# -ge 3 ]; then OUT=$(curl -q -sS -m 15 -w '\n%{http_code}' -X "$1" -H 'Content-Type: application/json' --data "$3" "$B$2" 2>&1)
  else OUT=$(curl -q -sS -m 15 -w '\n%{http_code}' -X "$1" "$B$2" 2>&1); fi
  CODE=$(num "$(printf '%s' "$OUT" | tail -n 1)"); BODY=$(printf '%s' "$OUT" | sed '$d')
}
finish() {
  curl -q -s -m 5 -o /dev/null -X POST "$B/v1.0/shutdown" || true
  printf '{"v":1,"marker":"%s","hops":[%s]}' "$M" "$R" > "${'$'}{RESULT_FILE:-/dev/termination-log}"
  exit 0
}
i=0; CODE=0
while [ "$i" -lt "$WAIT" ]; do
  CODE=$(num "$(curl -q -s -o /dev/null -m 2 -w '%{http_code}' "$B/v1.0/healthz/outbound" 2>/dev/null)")
  [ "$CODE" = 204 ] && break
  i=$((i+1)); sleep 1
done
if [ "$CODE" = 204 ]; then hop sidecar true 204 "outbound healthy after ${'$'}{i}s"
else hop sidecar false "$CODE" "no healthy sidecar on $B after ${'$'}{WAIT}s"; finish; fi
call GET /v1.0/metadata
hop metadata "$([ "$CODE" = 200 ] && echo true || echo false)" "$CODE" "$(printf '%s' "$BODY" | grep -o '"name":"[^"]*","type":"[^"]*"' | sed 's/"name":"\([^"]*\)","type":"\([^"]*\)"/\1=\2/' | tr '\n' ' ')"
call POST "/v1.0/state/$STORE" "[{\"key\":\"$M\",\"value\":{\"marker\":\"$M\"}}]"
hop state-save "$([ "$CODE" = 204 ] && echo true || echo false)" "$CODE" "$BODY"
call GET "/v1.0/state/$STORE/$M"
case "$BODY" in *"$M"*) OK=true;; *) OK=false;; esac
[ "$CODE" = 200 ] || OK=false
hop state-get "$OK" "$CODE" "$BODY"
call DELETE "/v1.0/state/$STORE/$M"
call POST "/v1.0/publish/$PUBSUB/$TOPIC" "{\"marker\":\"$M\"}"
hop publish "$([ "$CODE" = 204 ] && echo true || echo false)" "$CODE" "$BODY"
finish
`;

export interface ProbeJobOptions {
  namespace: string;
  name: string;
  marker: string;
  image: string;
  topic?: string;
  /** Upper bound for the whole Job (the kit waits less and deletes it). */
  activeDeadlineSeconds: number;
}

/** The Job: restricted-compliant (non-root, read-only, no capabilities, RuntimeDefault seccomp, sidecar too). */
export function renderProbeJob(o: ProbeJobOptions): Manifest {
  const labels = {
    'app.kubernetes.io/name': PROBE_APP_ID,
    'app.kubernetes.io/part-of': 'learnflow',
    'app.kubernetes.io/managed-by': 'learnflow-kit',
    [PROBE_LABEL]: o.name,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: o.name, namespace: o.namespace, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: o.activeDeadlineSeconds,
      ttlSecondsAfterFinished: 300,
      template: {
        metadata: {
          labels,
          annotations: {
            'dapr.io/enabled': 'true',
            'dapr.io/app-id': PROBE_APP_ID,
            'dapr.io/config': CONFIGURATION,
            'dapr.io/sidecar-seccomp-profile-type': 'RuntimeDefault',
            // The pod mounts no service-account token, which daprd's built-in Kubernetes secret store needs: daprd
            // exits when that store cannot initialise, unless this turns it off (dapr/dapr v1.18.3
            // pkg/runtime/runtime.go appendBuiltinSecretStore; dapr/docs#5014). The operator, not this store,
            // resolves the components' secretKeyRefs, so the probe loses nothing.
            'dapr.io/disable-builtin-k8s-secret-store': 'true',
            // LearnFlow's sidecar sizing.
            'dapr.io/sidecar-cpu-request': '100m',
            'dapr.io/sidecar-memory-request': '100Mi',
            'dapr.io/sidecar-cpu-limit': '500m',
            'dapr.io/sidecar-memory-limit': '200Mi',
          },
        },
        spec: {
          restartPolicy: 'Never',
          enableServiceLinks: false,
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: PROBE_CONTAINER,
              image: o.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['/bin/sh', '-c', PROBE_SCRIPT],
              env: [
                { name: 'M', value: o.marker },
                { name: 'STORE', value: STATESTORE },
                { name: 'PUBSUB', value: PUBSUB },
                { name: 'TOPIC', value: o.topic ?? PROBE_TOPIC },
                { name: 'WAIT', value: String(SIDECAR_WAIT_S) },
              ],
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
              resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '200m', memory: '64Mi' } },
              securityContext: {
                runAsUser: 65532,
                runAsGroup: 65532,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
}

export interface ProbeHop {
  hop: string;
  ok: boolean;
  code: number;
  detail: string;
}

export interface ProbeResult {
  marker: string;
  hops: ProbeHop[];
}

/** The termination message, checked: a result from another run or a truncated message is an error. */
export function parseProbeResult(message: string | undefined, marker: string): ProbeResult {
  if (!message?.trim()) throw new Error('the probe container ended without a result (no termination message)');
  let r: { v?: number; marker?: string; hops?: Partial<ProbeHop>[] };
  try {
    r = JSON.parse(message) as typeof r;
  } catch {
    throw new Error(`the probe's result is not JSON (truncated?): ${message.slice(0, 120)}`);
  }
  if (r.v !== 1 || !Array.isArray(r.hops)) throw new Error(`unexpected probe result: ${message.slice(0, 120)}`);
  if (r.marker !== marker) throw new Error(`the probe's result belongs to another run (marker ${String(r.marker)})`);
  const hops = r.hops.map((h) => {
    if (typeof h.hop !== 'string' || typeof h.ok !== 'boolean') throw new Error(`malformed hop in the probe result: ${JSON.stringify(h)}`);
    return { hop: h.hop, ok: h.ok, code: Number(h.code ?? 0), detail: String(h.detail ?? '') };
  });
  return { marker, hops };
}

/** name=type pairs from the metadata hop's detail. */
export function loadedComponents(detail: string): Map<string, string> {
  return new Map(
    detail
      .split(/\s+/)
      .filter((p) => p.includes('='))
      .map((p) => p.split('=', 2) as [string, string]),
  );
}

/** The hops in the order the script walks them, with the name of the check each one becomes. */
const HOPS = [
  ['sidecar', 'probe: sidecar healthy'],
  ['metadata', 'probe: components loaded'],
  ['state-save', 'probe: state save'],
  ['state-get', 'probe: state read back'],
  ['publish', `probe: publish through ${PUBSUB}`],
] as const;

/** The metadata hop: both components loaded, and the Redis store hidden from the probe (it is scoped to its app). */
function judgeMetadata(detail: string, withRedis: boolean): { ok: boolean; detail: string } {
  const loaded = loadedComponents(detail);
  const missing = expectedComponents(false).filter((c) => loaded.get(c.name) !== c.type);
  const leaked = withRedis && loaded.has(REDIS_STATESTORE);
  const seen = [...loaded].filter(([n]) => [PUBSUB, STATESTORE, REDIS_STATESTORE].includes(n)).map(([n, t]) => `${n} (${t})`);
  if (missing.length)
    return { ok: false, detail: `not loaded: ${missing.map((c) => `${c.name} (${c.type})`).join(', ')}; loaded: ${seen.join(', ') || 'none'}` };
  if (leaked) return { ok: false, detail: `${REDIS_STATESTORE} is visible to ${PROBE_APP_ID}: its scope is not applied` };
  return { ok: true, detail: `${seen.join(', ')}${withRedis ? `; ${REDIS_STATESTORE} hidden (scoped)` : ''}` };
}

/** One check per hop; components are judged here (both loaded, Redis only for its own app). */
export function probeChecks(result: ProbeResult, withRedis: boolean): { name: string; ok: boolean; detail: string }[] {
  const out: { name: string; ok: boolean; detail: string }[] = [];
  for (const [hop, name] of HOPS) {
    const h = result.hops.find((x) => x.hop === hop);
    const failed = out.find((c) => !c.ok);
    if (!h) out.push({ name, ok: false, detail: failed ? `not attempted: '${failed.name}' failed` : 'missing from the probe result' });
    else if (hop === 'metadata' && h.ok) out.push({ name, ...judgeMetadata(h.detail, withRedis) });
    else if (hop === 'sidecar' && h.ok) out.push({ name, ok: true, detail: h.detail });
    else out.push({ name, ok: h.ok, detail: `${h.code ? `HTTP ${h.code}` : 'no answer'}${h.detail ? `: ${h.detail}` : ''}` });
  }
  return out;
}

export type PodVerdict =
  | { kind: 'done'; message: string | undefined }
  | { kind: 'failed'; hop: string; detail: string; fix?: string; docs?: string }
  | { kind: 'waiting'; state: string };

/** What the probe pod says right now. Pure: unit-tested on pod JSON. */
export function judgeProbePod(pod: PodJson | undefined, ns: string, tracker?: TerminalTracker): PodVerdict {
  if (!pod) return { kind: 'waiting', state: 'no pod yet' };
  const name = pod.metadata.name;
  // daprd is an init container with restartPolicy Always when the injector runs in native-sidecar mode.
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => c.name);
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const probe = statuses.find((c) => c.name === PROBE_CONTAINER)?.state?.terminated;
  const daprd = statuses.find((c) => c.name === 'daprd')?.state?.terminated;
  if (containers.length && !containers.includes('daprd')) {
    return {
      kind: 'failed',
      hop: 'sidecar injection',
      detail: `pod ${name} has no daprd container: the sidecar injector did not act on it`,
      fix: `kubectl get pods -n dapr-system -l app=dapr-sidecar-injector; kubectl get mutatingwebhookconfiguration dapr-sidecar-injector (on a cluster that runs no containers, use --skip-probe)`,
      docs: 'dapr-sidecar-not-injected',
    };
  }
  if (probe) return { kind: 'done', message: probe.message };
  if (daprd && (daprd.exitCode ?? 0) !== 0) {
    return {
      kind: 'failed',
      hop: 'sidecar',
      detail:
        `daprd exited with code ${daprd.exitCode}${daprd.reason ? ` (${daprd.reason})` : ''}: a component could not initialise: Kafka or PostgreSQL unreachable, ` +
        `wrong credentials, or the built-in Kubernetes secret store on a pod without a service-account token ` +
        `(needs the annotation dapr.io/disable-builtin-k8s-secret-store: "true")`,
      fix: `kubectl logs -n ${ns} ${name} -c daprd | grep -i -E 'error|fatal'`,
      docs: 'daprd-component-init',
    };
  }
  const d = diagnosePod(pod);
  if (!tracker?.terminal(d) && !d.terminal) return { kind: 'waiting', state: `pod ${name}: ${d.state}` };
  const hop = d.reason && /Image|Pull/.test(d.reason) ? 'image pull' : d.reason === 'Unschedulable' ? 'scheduling' : 'pod start';
  return { kind: 'failed', hop, detail: `pod ${name}: ${d.state}`, fix: d.fix?.replace(/-n learnflow\b/g, `-n ${ns}`), docs: d.docs };
}

/** Runs the Job and returns its result, or throws a StepError naming the hop that failed before the script could. */
export async function runProbeJob(step: StepCtx, o: { image: string; timeoutMs: number }): Promise<ProbeResult> {
  const ns = step.config.namespace;
  const id = randomBytes(4).toString('hex');
  const name = `${PROBE_APP_ID}-${id}`;
  const marker = `probe-${id}-${randomBytes(6).toString('hex')}`;
  const job = renderProbeJob({ namespace: ns, name, marker, image: o.image, activeDeadlineSeconds: Math.ceil(o.timeoutMs / 1000) + 60 });
  step.cleanup.defer(`probe job ${name}`, async () => {
    await step.kube.run(['delete', 'job', name, '-n', ns, '--ignore-not-found', '--cascade=background', '--wait=false'], { quiet: true });
  });
  await step.kube.apply([job]);
  step.log.info(`probe: job/${name} started (image ${o.image}, app id ${PROBE_APP_ID})`);
  const tracker = new TerminalTracker(() => step.clock.now());
  const message = await waitFor<string | undefined>({
    what: `the probe job/${name}`,
    clock: step.clock,
    deadline: step.deadline.child(o.timeoutMs),
    log: step.log,
    signal: step.signal,
    intervalMs: 2000,
    probe: async () => {
      const v = judgeProbePod((await step.kube.list<PodJson>('pod', { selector: `${PROBE_LABEL}=${name}` }))[0], ns, tracker);
      if (v.kind === 'done') return { done: true, state: 'finished', value: v.message };
      if (v.kind === 'waiting') return { done: false, state: v.state };
      return { done: false, state: v.detail, terminal: new StepError(`probe failed at hop '${v.hop}': ${v.detail}`, { fix: v.fix, docs: v.docs }) };
    },
  });
  return parseProbeResult(message, marker);
}

// ------------------------------------------------------------------------------------------------- Kafka

/** Whether the topic was created (false: it was there). */
export function ensureProbeTopic(session: KafkaSession): Promise<boolean> {
  return ensureOwnTopic(session.admin, PROBE_TOPIC, session.brokers.length, 3_600_000);
}

/** Reads the probe topic from the start until a message carrying the marker shows up. */
export async function findMarker(session: KafkaSession, marker: string, timeoutMs: number): Promise<{ found: boolean; scanned: number }> {
  const r = await consumeUntil(session, {
    topic: PROBE_TOPIC,
    groupId: `${PROBE_GROUP_PREFIX}${randomBytes(4).toString('hex')}`,
    match: (m) => m.value?.toString('utf8').includes(marker) ?? false,
    timeoutMs,
  });
  return { found: r.found !== undefined, scanned: r.scanned };
}

/** The Kafka side first (the probe topic), then the Job, a check per hop, and the published message in Kafka. */
export async function probeChecksEndToEnd(step: StepCtx, o: { image: string; timeoutMs: number; withRedis: boolean }): Promise<void> {
  let session: KafkaSession | undefined;
  try {
    const sts = await step.kube.getOptional<{ spec?: { replicas?: number } }>('statefulset', 'kafka');
    session = await connectKafka(step, await openEndpoint(step, sts?.spec?.replicas ?? 1));
    const created = await ensureProbeTopic(session);
    step.check('probe: Kafka topic', true, `${PROBE_TOPIC} ${created ? 'created' : 'present'} (reached through ${session.endpoint.via})`);
  } catch (err) {
    step.check('probe: Kafka topic', false, `cannot reach Kafka from here to prepare ${PROBE_TOPIC}: ${errorMessage(err).split('\n')[0]}`);
    await session?.close();
    session = undefined;
  }
  try {
    const result = await runProbeJob(step, o).catch((err: unknown) => {
      const e =
        err instanceof KitError ? `${err.message}${err.fix ? ` (fix: ${err.fix})` : ''}${err.docs ? ` (see ${docsLink(err.docs)})` : ''}` : errorMessage(err);
      step.check('probe', false, e);
    });
    if (!result) return;
    const checks = probeChecks(result, o.withRedis);
    for (const c of checks) step.check(c.name, c.ok, c.detail);
    const inKafka = 'probe: message in Kafka';
    if (!session) {
      step.check(inKafka, false, 'not checked: Kafka is not reachable from here (give --kafka-brokers); only the sidecar said the publish succeeded');
    } else if (!checks.at(-1)!.ok /* the publish, the last hop */) {
      step.check(inKafka, false, 'not attempted: the publish failed');
    } else {
      const r = await findMarker(session, result.marker, 20_000).catch((err: unknown) => `consuming ${PROBE_TOPIC} failed: ${explainKafkaError(err)}`);
      if (typeof r === 'string') step.check(inKafka, false, r);
      else step.check(inKafka, r.found, r.found ? `consumed from ${PROBE_TOPIC}` : `not found in ${PROBE_TOPIC} within 20s (${r.scanned} message(s) read)`);
    }
  } finally {
    await session?.close();
  }
}
