// The Kafka component: namespace, ConfigMap + Services + StatefulSet (KRaft), then the topic catalogue
// reconciled through the admin API. verify-kafka: pods, metadata, every topic, a round trip on every topic.

import { formatDuration } from '../../core/duration.js';
import { REPLICAS_FLAG, ROUND_TRIP_APP_TOPICS_FLAG } from './flags.js';
import type { Ctx, StepCtx } from '../../run/context.js';
import { budgetFlag, flagPath, KAFKA_BROKERS_FLAG, NETWORK_POLICIES_FLAG, NO_CLUSTER_FLAG, NO_NETWORK_POLICIES_FLAG } from '../../core/config.js';
import { chooseNetworkPolicies, rememberedSettings, renderSettings } from '../../run/remembered.js';
import { errorMessage, StepError } from '../../core/errors.js';
import { deleteBySelector, labelClaims } from '../../kube/kubectl.js';
import { ensureClusterReachable } from '../../preflight/checks.js';
import { waitForWorkload } from '../../run/rollout.js';
import { renderNamespace } from '../shared/namespace.js';
import type { Component, Plan } from '../types.js';
import { actionList, clusterReady, planLines, runActions, type Action } from '../shared/actions.js';
import { DEFAULT_CATALOGUE, loadCatalogue, TOPICS_FLAG, type Catalogue } from './catalogue.js';
import {
  createProbeProducer,
  describeTopic,
  ensureOwnTopic,
  roundTrip,
  topicDifferences,
  PROBE_HEADER,
  VERIFY_TOPIC,
  VERIFY_TOPIC_RETENTION_MS,
} from './checks.js';
import { connectKafka, explainKafkaError, kafkaFailure, openEndpoint, waitForBrokers, type KafkaSession } from '../shared/kafka-client.js';
import { withTimeout } from '../../core/wait.js';
import { renderKafka } from './manifests.js';
import type { Manifest } from '../../kube/manifests.js';
import { applyPlan, describeAction, observeTopics, planReconcile, type TopicOutcome } from './reconcile.js';
import { chooseClusterId, claimName, type ClaimJson } from './cluster-id.js';
import { podReady } from '../../kube/pod-diagnosis.js';
import { applyRecorded } from '../../run/steps.js';
import {
  CLUSTER_ID_ANNOTATION,
  deployedClusterId,
  inClusterBootstrap,
  KAFKA_SELECTOR,
  LOCAL_PORT_BASE,
  portForwardTargets,
  replicationFor,
  STATEFULSET,
} from '../shared/kafka-topology.js';
import { laptopPorts, renderStackRecord, STACK_RECORD, portsOfSlot } from '../shared/stack-record.js';
import { kafkaConnect, kafkaStatus } from './status.js';
import { describeUpgrade, FINALIZE_ANNOTATION, finalizeRelease, planUpgrade, releaseOf, rollBrokers, type KafkaUpgrade, type LiveKafka } from './upgrade.js';
import { readVersions } from '../../kube/manifests.js';

/** Kafka's deadline in a deploy or verify (--budget changes it). */
const BUDGET_MS = 10 * 60_000;

function catalogueOf(ctx: Ctx): Catalogue {
  return loadCatalogue(ctx.root, flagPath(ctx.config, TOPICS_FLAG, ctx.root, DEFAULT_CATALOGUE));
}

function replicasOf(ctx: Ctx): number {
  return ctx.config.options.get(REPLICAS_FLAG) ?? 1;
}

async function withSession<T>(session: KafkaSession, fn: (s: KafkaSession) => Promise<T>): Promise<T> {
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

/** What one deploy learns on its way and hands to the next action. */
interface KafkaRun {
  replicas: number;
  claims?: ClaimJson[];
  clusterId?: string;
  networkPolicies?: boolean;
  /** A version change found on the running brokers (upgrade.ts). */
  upgrade?: KafkaUpgrade;
  /** The StatefulSet as a deploy without a version change renders it (partition 0): applied once the roll is done. */
  settled?: Manifest;
}

function plannedManifests(ctx: Ctx) {
  const ns = ctx.config.namespace;
  // The laptop ports of the first stack on a cluster: a plan reads no cluster, a deploy reads the stack's record.
  return [
    ...renderNamespace(ns),
    renderStackRecord(ns, portsOfSlot(0)),
    ...renderKafka(ns, replicasOf(ctx), { networkPolicies: !ctx.config.options.on(NO_NETWORK_POLICIES_FLAG) }),
  ];
}

/** The deploy, in order: what --dry-run shows and what deploy runs. */
function kafkaActions(ctx: Ctx): Action<KafkaRun>[] {
  const ns = ctx.config.namespace;
  const replicas = replicasOf(ctx);
  const catalogue = catalogueOf(ctx);
  const cluster = !ctx.config.noCluster;
  const { replicationFactor, minIsr } = replicationFor(replicas);
  const replication = `replication factor ${replicationFactor}, min ISR ${minIsr}${cluster ? '' : ' (from the brokers found)'}`;
  return actionList<KafkaRun>(
    cluster && clusterReady<KafkaRun>(),
    cluster && {
      plan: `read statefulset/${STATEFULSET} and its claims: keep the running broker count (the kit never resizes a running KRaft quorum) and the KRaft cluster id (new and random for a new stack); then kubectl apply --server-side: ${plannedManifests(
        ctx,
      )
        .map((m) => `${m.kind}/${m.metadata.name}`)
        .join(
          ', ',
        )} and the remembered settings (ConfigMap/learnflow-settings-kafka; NetworkPolicies as deployed unless a flag says otherwise); in-cluster clients bootstrap from ${inClusterBootstrap(ns)}`,
      run: async (step, run) => {
        const manifests = await desiredKafka(step, run);
        if (!run.networkPolicies) await deleteBySelector(step, 'networkpolicy', KAFKA_SELECTOR);
        await applyRecorded(step, manifests);
      },
    },
    cluster && {
      plan: `compare the Kafka version the brokers run (statefulset/${STATEFULSET} and its pods) with the pin ${pinnedVersion()}; where they differ: roll one broker at a time, highest ordinal first, each gated on every partition back in its ISR and the controller quorum caught up; then finalize the metadata version (kafka-features.sh upgrade --release-version ${releaseOf(pinnedVersion())}). A newer version or another major is refused before anything is applied`,
      run: async (step, run) => {
        const u = run.upgrade;
        if (!u) return;
        const t0 = step.clock.now();
        if (u.roll) {
          await rollBrokers(step, u);
          // The partition back at 0 through the kit's own apply: the object is then what a re-run renders (no change).
          await applyRecorded(step, [run.settled!]);
        }
        const mv = await finalizeRelease(step, u);
        step.change(`kafka version`, `upgraded ${u.from.join(', ')} -> ${u.to}`);
        step.log.ok(`Kafka ${u.from.join(', ')} -> ${u.to} in ${formatDuration(step.clock.now() - t0)}; metadata version finalized at ${mv}`);
      },
    },
    cluster && {
      plan: `wait for statefulset/${STATEFULSET} to be ready: ${replicas} broker(s); record the cluster id on each broker's claim`,
      run: async (step, run) => {
        await waitForWorkload(step, { kind: 'statefulset', name: STATEFULSET, selector: KAFKA_SELECTOR });
        await labelClaims(
          step.kube,
          Array.from({ length: run.replicas }, (_, i) => claimName(i)),
          { annotations: { [CLUSTER_ID_ANNOTATION]: run.clusterId! }, known: run.claims },
        );
        step.log.ok(`statefulset/${STATEFULSET} is ready (${run.replicas} broker(s))`);
      },
    },
    {
      plan: ctx.config.kafkaBrokers
        ? `connect to --kafka-brokers ${ctx.config.kafkaBrokers.join(',')}; reconcile ${catalogue.topics.length} topics from ${catalogue.source} (create missing, raise partitions, update settings; never delete or shrink): ${catalogue.topics.map((t) => t.name).join(', ')}; new topics get ${replication}`
        : `open port-forwards on the stack's laptop ports (its record, ConfigMap/${STACK_RECORD}; the first stack on a cluster: ${portForwardTargets(
            replicas,
            LOCAL_PORT_BASE,
          )
            .map((t) => `127.0.0.1:${t.localPort} -> ${t.resource}:${t.remotePort}`)
            .join(
              ', ',
            )}) (or reuse scripts/port-forward.mts's) and connect to them; reconcile ${catalogue.topics.length} topics from ${catalogue.source} (create missing, raise partitions, update settings; never delete or shrink): ${catalogue.topics.map((t) => t.name).join(', ')}; new topics get ${replication}`,
      run: (step, run) => reconcileTopics(step, catalogue, run.replicas),
    },
  );
}

/**
 * What the deploy applies, read from the cluster as it stands: the running broker count, the cluster id kept by
 * the StatefulSet or its claims, the remembered NetworkPolicies setting. Reads only (deploy and --diff).
 */
async function desiredKafka(step: StepCtx, run: KafkaRun): Promise<Manifest[]> {
  const ns = step.config.namespace;
  // The StatefulSet and the claims in one call: the claims outlive the StatefulSet and record the cluster id.
  const [found, mem, ports] = await Promise.all([
    step.kube.list<KafkaObject>('statefulset,pvc,pod', { selector: KAFKA_SELECTOR }),
    rememberedSettings(step, 'kafka'),
    laptopPorts(step),
  ]);
  const existing = found.find((o) => o.kind === 'StatefulSet' && o.metadata.name === STATEFULSET);
  run.claims = found.filter((o) => o.kind === 'PersistentVolumeClaim');
  const running = existing?.spec?.replicas;
  // A re-run without --replicas keeps the brokers that run.
  if (running !== undefined && !step.config.options.given(REPLICAS_FLAG)) run.replicas = running;
  if (running !== undefined && running !== run.replicas) {
    throw new StepError(
      `statefulset/${STATEFULSET} in ${ns} runs ${running} broker(s); --replicas ${run.replicas} would change its KRaft quorum, which the kit does not do to a running cluster`,
      {
        fix: `re-run with --replicas ${running}, or start over (deletes every message): kubectl delete statefulset ${STATEFULSET} -n ${ns} && kubectl delete pvc -n ${ns} -l ${KAFKA_SELECTOR}`,
        docs: 'kafka-replicas-change',
      },
    );
  }
  run.upgrade = planUpgrade(existing && liveKafka(existing, found), pinnedImage(), ns);
  if (run.upgrade) step.log.info(describeUpgrade(run.upgrade));
  const policies = chooseNetworkPolicies(step.config.options, mem);
  step.log.info(policies.why);
  run.networkPolicies = policies.value;
  const clusterId = chooseClusterId({ namespace: ns, deployed: deployedClusterId(existing as Parameters<typeof deployedClusterId>[0]), claims: run.claims });
  step.log.info(clusterId.why);
  run.clusterId = clusterId.id;
  const kafkaManifests = (partition: number) =>
    renderKafka(ns, run.replicas, { networkPolicies: policies.value, clusterId: clusterId.id, localPortBase: ports.kafka, partition });
  if (run.upgrade?.roll) run.settled = kafkaManifests(0).find((m) => m.kind === 'StatefulSet');
  return [
    ...renderNamespace(ns),
    renderStackRecord(ns, ports),
    ...kafkaManifests(run.upgrade?.roll ? run.replicas : 0),
    renderSettings(ns, 'kafka', { 'app.kubernetes.io/name': 'kafka' }, { networkPolicies: String(policies.value), replicas: String(run.replicas) }),
  ];
}

type KafkaObject = {
  kind: string;
  metadata: ClaimJson['metadata'] & { annotations?: Record<string, string> };
  spec?: { replicas?: number; template?: { spec?: { containers?: { name: string; image?: string }[] } }; containers?: { name: string; image?: string }[] };
};

function pinnedImage(): string {
  const v = readVersions().kafka;
  return `${v.image}:${v.version}`;
}

function pinnedVersion(): string {
  return readVersions().kafka.version;
}

/** The running brokers as the deploy's one list shows them: the StatefulSet's template and each pod's image. */
function liveKafka(sts: KafkaObject, found: readonly KafkaObject[]): LiveKafka {
  const image = (cs?: { name: string; image?: string }[]) => cs?.find((c) => c.name === 'kafka')?.image;
  return {
    replicas: sts.spec?.replicas ?? 1,
    templateImage: image(sts.spec?.template?.spec?.containers),
    pendingRelease: sts.metadata.annotations?.[FINALIZE_ANNOTATION],
    pods: found.filter((o) => o.kind === 'Pod').map((p) => ({ name: p.metadata.name, image: image(p.spec?.containers) })),
  };
}

async function reconcileTopics(step: StepCtx, catalogue: Catalogue, replicas: number): Promise<void> {
  const endpoint = await openEndpoint(step, replicas);
  const session = await connectKafka(step, endpoint);
  await withSession(session, async (s) => {
    if (!step.config.noCluster) await waitForBrokers(step, s, replicas);
    const brokers = s.brokers.length;
    step.log.info(`connected to Kafka cluster ${s.clusterId} (${brokers} broker(s)) via ${endpoint.via}`);
    await endpoint.ensure();
    const observed = await observeTopics(
      s.admin,
      catalogue.topics.map((t) => t.name),
    ).catch((err: unknown) => {
      throw kafkaFailure('reading the topics', err, { fix: endpoint.fix, docs: 'kafka-unreachable' });
    });
    const plan = planReconcile(catalogue.topics, observed, brokers);
    for (const w of plan.warnings) step.log.warn(w);
    if (plan.refused.length) {
      throw new StepError(`${catalogue.source} asks for what Kafka cannot do; nothing was changed:\n${plan.refused.map((r) => `  - ${r}`).join('\n')}`, {
        fix: `set those partition counts back to what the topics have in ${catalogue.source} (or delete and recreate the topic by hand, losing its messages)`,
        docs: 'kafka-partitions-shrink',
      });
    }
    const outcome = await applyPlan(s.admin, plan, (a) => step.log.info(`topic ${a.topic}: ${describeAction(a)}`));
    const counts: Record<TopicOutcome, number> = { created: 0, updated: 0, unchanged: 0 };
    for (const t of catalogue.topics) {
      const what = outcome[t.name]!;
      counts[what]++;
      step.change(`topic ${t.name}`, what);
    }
    step.log.ok(`${catalogue.topics.length} topics: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged`);
  });
}

export const kafka: Component = {
  name: 'kafka',
  title: 'Kafka',
  budgetMs: BUDGET_MS,
  scripts: { deploy: 'deploy-kafka', verify: 'verify-kafka' },
  readiness: [{ kind: 'statefulset', name: STATEFULSET, selector: KAFKA_SELECTOR }],
  status: kafkaStatus,
  connect: kafkaConnect,
  summaries: {
    deploy:
      'Deploys Apache Kafka into the namespace (official apache/kafka image, KRaft: each broker is also a controller, no ZooKeeper;\n5Gi volume per broker) and reconciles the topic catalogue k8s/kafka/topics.yaml: creates missing topics, raises partition\ncounts, updates settings; never deletes or shrinks a topic. Safe to re-run.\nA new Kafka pin on a running stack rolls the brokers one at a time, each gated on ISR and quorum, then finalizes\nthe metadata version (docs/kafka.md#upgrades).\nWith --no-cluster --kafka-brokers HOST:PORT it only reconciles the topics on that broker.',
    verify:
      "Checks Kafka: pods ready, broker metadata reachable, every topic of the catalogue present with its partitions, leaders,\nin-sync replicas and settings (read only: nothing is written to application topics), and a produce+consume round trip\non the kit's own topic learnflow.kit-verify. Runs every check; exit 1 if any failed.\nWith --no-cluster --kafka-brokers HOST:PORT only the broker checks run.",
  },
  deployFlags: [KAFKA_BROKERS_FLAG, NO_CLUSTER_FLAG, REPLICAS_FLAG, TOPICS_FLAG, NO_NETWORK_POLICIES_FLAG, NETWORK_POLICIES_FLAG, budgetFlag(BUDGET_MS)],
  verifyFlags: [KAFKA_BROKERS_FLAG, NO_CLUSTER_FLAG, TOPICS_FLAG, ROUND_TRIP_APP_TOPICS_FLAG],

  async plan(ctx: Ctx): Promise<Plan> {
    return { actions: planLines(kafkaActions(ctx)), manifests: ctx.config.noCluster ? [] : plannedManifests(ctx) };
  },

  async deploy(step: StepCtx): Promise<void> {
    await runActions(step, kafkaActions(step), { replicas: replicasOf(step) });
  },

  async desired(step: StepCtx) {
    const run: KafkaRun = { replicas: replicasOf(step) };
    const manifests = await desiredKafka(step, run);
    return { manifests, actions: run.upgrade ? [describeUpgrade(run.upgrade)] : [] };
  },

  async verify(step: StepCtx): Promise<void> {
    const catalogue = catalogueOf(step);
    let expected: number | undefined;
    if (!step.config.noCluster) {
      if (!step.preflighted) await ensureClusterReachable(step);
      expected = await checkPods(step);
    }

    let session: KafkaSession;
    try {
      session = await connectKafka(step, await openEndpoint(step, expected ?? 1));
    } catch (err) {
      step.check('broker metadata reachable', false, errorMessage(err).split('\n')[0]!);
      step.check('topics', false, 'not checked: no broker reachable');
      return;
    }
    await withSession(session, async (s) => {
      const ids = s.brokers.map((b) => b.nodeId).sort((a, b) => a - b);
      const countOk = expected === undefined || s.brokers.length === expected;
      step.check(
        'broker metadata reachable',
        s.brokers.length > 0 && countOk,
        `${s.brokers.length}${expected === undefined ? '' : ` of ${expected}`} broker(s) (node ids ${ids.join(', ')}), cluster id ${s.clusterId}, via ${s.endpoint.via}`,
      );
      const brokers = Math.max(1, s.brokers.length);

      let observed;
      try {
        await s.endpoint.ensure();
        observed = await observeTopics(
          s.admin,
          catalogue.topics.map((t) => t.name),
        );
      } catch (err) {
        step.check('topics', false, `could not read the topics: ${explainKafkaError(err)}`);
        return;
      }
      for (const t of catalogue.topics) {
        const diffs = topicDifferences(t, observed.get(t.name), brokers);
        step.check(`topic ${t.name}`, diffs.length === 0, diffs.length ? diffs.join('; ') : describeTopic(observed.get(t.name)!));
      }

      // Application topics only with the explicit flag: their subscribers would receive the probe.
      const appTopics = step.config.options.on(ROUND_TRIP_APP_TOPICS_FLAG) ? catalogue.topics.map((t) => t.name) : [];
      const targets = [VERIFY_TOPIC, ...appTopics];
      try {
        const created = await ensureOwnTopic(s.admin, VERIFY_TOPIC, brokers, VERIFY_TOPIC_RETENTION_MS);
        if (created) step.log.info(`created the kit's own topic ${VERIFY_TOPIC} for the round trip`);
      } catch (err) {
        step.log.warn(`could not create ${VERIFY_TOPIC}: ${explainKafkaError(err)}`);
      }
      const producer = createProbeProducer(s.kafka);
      try {
        await withTimeout(producer.connect(), 10_000, 'connecting the probe producer');
      } catch (err) {
        for (const t of targets) step.check(`round trip ${t}`, false, `producer could not connect: ${explainKafkaError(err)}`);
        return;
      }
      try {
        if (appTopics.length)
          step.log.warn(
            `--round-trip-app-topics: writing a probe (header ${PROBE_HEADER}: true) into ${appTopics.length} application topic(s); running services will receive it`,
          );
        const results = await Promise.all(
          targets.map((t) =>
            t === VERIFY_TOPIC || observed.has(t)
              ? roundTrip(s.kafka, producer, s.admin, t, step.log)
              : Promise.resolve({ ok: false, detail: 'not attempted: the topic is missing' }),
          ),
        );
        targets.forEach((t, i) => step.check(`round trip ${t}`, results[i]!.ok, results[i]!.detail));
      } finally {
        await withTimeout(producer.disconnect(), 5_000, 'disconnecting the probe producer').catch(() => {});
      }
    });
  },

  // The volumes hold every topic and message; each claim records the cluster id, so a re-deploy picks them up.
  owned: [
    { kinds: 'statefulset,service,configmap,networkpolicy,poddisruptionbudget', selector: KAFKA_SELECTOR },
    { kinds: 'pvc', selector: KAFKA_SELECTOR, data: 'the Kafka volumes (topics and messages)' },
  ],
};

interface PodJson {
  metadata: { name: string };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

/** 'pods ready' check; returns the StatefulSet's broker count (undefined when there is none). */
async function checkPods(step: StepCtx): Promise<number | undefined> {
  const ns = step.config.namespace;
  try {
    const sts = await step.kube.getOptional<{ spec?: { replicas?: number } }>('statefulset', STATEFULSET);
    if (!sts) {
      step.check('pods ready', false, `no statefulset/${STATEFULSET} in ${ns}: run ./scripts/deploy-kafka.mts`);
      return undefined;
    }
    const want = sts.spec?.replicas ?? 1;
    const pods = await step.kube.list<PodJson>('pod', { selector: KAFKA_SELECTOR });
    const ready = pods.filter(podReady);
    step.check(
      'pods ready',
      ready.length === want && pods.length === want,
      pods.length
        ? `${ready.length}/${want} ready: ${pods.map((p) => `${p.metadata.name} ${ready.includes(p) ? 'ready' : (p.status?.phase ?? 'unknown')}`).join(', ')}`
        : `no Kafka pod in ${ns}`,
    );
    return want;
  } catch (err) {
    step.check('pods ready', false, errorMessage(err).split('\n')[0]!);
    return undefined;
  }
}
