// The Kafka component: the namespace and the KRaft StatefulSet with its objects, a version roll when the pin moved
// (upgrade.ts), then the topic catalogue reconciled through the admin API. verify-kafka is checks.ts.

import { formatDuration } from '../../core/duration.js';
import { REPLICAS_FLAG, ROUND_TRIP_APP_TOPICS_FLAG } from './flags.js';
import type { Ctx, StepCtx } from '../../run/context.js';
import { budgetFlag, flagPath, KAFKA_BROKERS_FLAG, NETWORK_POLICIES_FLAG, NO_CLUSTER_FLAG, NO_NETWORK_POLICIES_FLAG } from '../../core/config.js';
import { chooseNetworkPolicies, rememberedSettings, renderSettings } from '../../run/remembered.js';
import { StepError } from '../../core/errors.js';
import { deleteBySelector, labelClaims } from '../../kube/kubectl.js';
import { waitForWorkload } from '../../run/rollout.js';
import { renderNamespace } from '../shared/namespace.js';
import type { Component, Plan } from '../types.js';
import { actionList, clusterReady, planLines, runActions, type Action } from '../shared/actions.js';
import { DEFAULT_CATALOGUE, loadCatalogue, TOPICS_FLAG, type Catalogue } from './catalogue.js';
import { verifyKafka } from './checks.js';
import { renderKafka } from './manifests.js';
import { type Manifest } from '../../kube/manifests.js';
import { readVersions } from '../../core/repo.js';
import { reconcileTopics } from './reconcile.js';
import { chooseClusterId, claimName, type ClaimJson } from './cluster-id.js';
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
import { kafkaForwards } from './forwards.js';
import { describeUpgrade, FINALIZE_ANNOTATION, finalizeRelease, planUpgrade, releaseOf, rollBrokers, type KafkaUpgrade, type LiveKafka } from './upgrade.js';

/** Kafka's deadline in a deploy or verify (--budget changes it). */
const BUDGET_MS = 10 * 60_000;

function catalogueOf(ctx: Ctx): Catalogue {
  return loadCatalogue(ctx.root, flagPath(ctx.config, TOPICS_FLAG, ctx.root, DEFAULT_CATALOGUE));
}

function replicasOf(ctx: Ctx): number {
  return ctx.config.options.get(REPLICAS_FLAG) ?? 1;
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

export const kafka: Component = {
  name: 'kafka',
  title: 'Kafka',
  budgetMs: BUDGET_MS,
  scripts: { deploy: 'deploy-kafka', verify: 'verify-kafka' },
  readiness: [{ kind: 'statefulset', name: STATEFULSET, selector: KAFKA_SELECTOR }],
  status: kafkaStatus,
  connect: kafkaConnect,
  forwards: kafkaForwards,
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

  verify: (step: StepCtx) => verifyKafka(step, catalogueOf(step)),

  // The volumes hold every topic and message; each claim records the cluster id, so a re-deploy picks them up.
  owned: [
    { kinds: 'statefulset,service,configmap,networkpolicy,poddisruptionbudget', selector: KAFKA_SELECTOR },
    { kinds: 'pvc', selector: KAFKA_SELECTOR, data: 'the Kafka volumes (topics and messages)' },
  ],
};
