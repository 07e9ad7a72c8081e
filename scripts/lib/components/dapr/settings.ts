// Names, pins and flags of the Dapr component, and the settings a run derives from its flags.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { budgetFlag, flagPath, KAFKA_BROKERS_FLAG, NETWORK_POLICIES_FLAG, NO_NETWORK_POLICIES_FLAG, PG_URL_FLAG } from '../../core/config.js';
import { chooseNetworkPolicies, chooseSetting } from '../../run/remembered.js';
import type { Ctx } from '../../run/context.js';
import { UsageError } from '../../core/errors.js';
import { booleanFlag, type FlagSpec, type FlagValue, flag } from '../../core/flags.js';
import type { ChartRef } from '../../kube/helm.js';
import { readVersions } from '../../core/repo.js';

/** Dapr's deadline in a deploy or verify (--budget changes it). */
export const BUDGET_MS = 5 * 60_000;

export const DAPR_NAMESPACE = 'dapr-system';
export const RELEASE = 'dapr';
export const VALUES_FILE = 'k8s/dapr/values.yaml';

export const PUBSUB = 'kafka-pubsub';
export const STATESTORE = 'statestore';
export const REDIS_STATESTORE = 'statestore-redis';
export const CONFIGURATION = 'learnflow-config';
export const RESILIENCY = 'learnflow-resiliency';
/** The Redis state store is for the progress agent only. */
export const REDIS_SCOPE = 'progress-agent';
export const DEFAULT_CONSUMER_GROUP = 'learnflow-consumers';

export const STATESTORE_SECRET = 'dapr-statestore';
export const REDIS_SECRET = 'redis-credentials';
export const STATE_ROLE = 'dapr_state';
export const STATE_SCHEMA = 'dapr';

/** Every object the kit applies for Dapr carries this label (destroy selects on it). */
export const COMPONENT_SELECTOR = 'app.kubernetes.io/component=dapr,app.kubernetes.io/managed-by=learnflow-kit';

/**
 * pubsub.kafka's `version` metadata (a Sarama KafkaVersion). Kafka 4 dropped the protocols older than 2.1 (KIP-896),
 * which Dapr's default 2.0.0 is; 4.0.0 is known to Dapr 1.18's Sarama (up to 4.2) and not newer than any 4.x broker,
 * as Sarama requires. A unit test keeps it at the pinned Kafka's major version.
 */
export const KAFKA_PROTOCOL_VERSION = '4.0.0';

/** The probe's image (--probe-image overrides it): small, non-root, pinned; only its /bin/sh and curl are used. */
const PROBE_PIN = readVersions().probe;
export const PROBE_IMAGE = `${PROBE_PIN.image}:${PROBE_PIN.version}`;

const SEMVER = /^\d+\.\d+\.\d+$/;

export const DAPR_VERSION_FLAG = flag({
  name: 'dapr-version',
  kind: 'string',
  clusterOnly: true,
  valueName: 'X.Y.Z',
  default: readVersions().dapr.version,
  env: 'LEARNFLOW_DAPR_VERSION',
  description: 'Dapr version to install (chart and images)',
  validate: (v: FlagValue) => (SEMVER.test(String(v)) ? undefined : `'${String(v)}' is not a version like 1.18.3`),
});

export const DAPR_CHART_FLAG = flag({
  name: 'dapr-chart',
  kind: 'string',
  clusterOnly: true,
  valueName: 'DIR',
  env: 'LEARNFLOW_DAPR_CHART',
  description: 'install from this local chart directory instead of the official Dapr chart repository (offline installs, tests)',
});

export const WITH_REDIS_FLAG = booleanFlag('with-redis', `also deploy Redis and the ${REDIS_STATESTORE} component, visible to app id ${REDIS_SCOPE} only`, {
  clusterOnly: true,
});

export const CONTROL_PLANE_ONLY_FLAG = booleanFlag(
  'control-plane-only',
  'Dapr: install the control plane only (no components, no state-store role; Kafka and PostgreSQL not needed)',
);

export const SAMPLING_FLAG = flag({
  name: 'tracing-sampling-rate',
  kind: 'string',
  valueName: 'RATE',
  default: '1',
  description: 'share of requests traced when --zipkin-endpoint names a collector, 0 (off) to 1 (all, the development setting)',
  validate: (v: FlagValue) => {
    const s = String(v);
    return /^(0(\.\d+)?|1(\.0+)?)$/.test(s) ? undefined : `'${s}' is not a number between 0 and 1`;
  },
});

export const ZIPKIN_FLAG = flag({
  name: 'zipkin-endpoint',
  kind: 'string',
  valueName: 'URL',
  description: "a Zipkin collector for the sidecars' spans, e.g. http://zipkin.learnflow.svc.cluster.local:9411/api/v2/spans (default: no tracing)",
  validate: (v: FlagValue) => (/^https?:\/\/[^\s"]+$/.test(String(v)) ? undefined : `'${String(v)}' is not an http(s) URL`),
});

export const WITH_ZIPKIN_FLAG = booleanFlag(
  'with-zipkin',
  "also deploy a Zipkin collector at zipkin:9411 in the namespace and send the sidecars' spans there (every request traced unless --tracing-sampling-rate)",
);

export const NO_REDIS_FLAG = booleanFlag(
  'no-redis',
  'remove the Redis of an earlier --with-redis (its volume and password are kept); --with-redis is remembered otherwise',
);
export const NO_ZIPKIN_FLAG = booleanFlag('no-zipkin', 'remove the Zipkin of an earlier --with-zipkin; --with-zipkin is remembered otherwise');

export const CONSUMER_GROUP_FLAG = flag({
  name: 'consumer-group',
  kind: 'string',
  valueName: 'NAME',
  default: DEFAULT_CONSUMER_GROUP,
  description: "Kafka consumer group of every subscriber; '{appID}' in it is replaced per app, e.g. learnflow-{appID}",
  validate: (v: FlagValue) =>
    /^[A-Za-z0-9._{}-]{1,200}$/.test(String(v)) ? undefined : `'${String(v)}' is not a consumer group name (letters, digits, . _ - and {appID})`,
});

export const SKIP_PROBE_FLAG = booleanFlag(
  'skip-probe',
  'skip the end-to-end probe (for clusters that run no containers, e.g. KWOK); only the objects are checked',
);

export const PROBE_IMAGE_FLAG = flag({
  name: 'probe-image',
  kind: 'string',
  valueName: 'IMAGE',
  default: PROBE_IMAGE,
  description: 'image of the probe Job (needs /bin/sh and curl)',
});

export const PROBE_TIMEOUT_FLAG = flag({
  name: 'probe-timeout',
  kind: 'duration',
  valueName: 'DURATION',
  default: 180_000,
  description: 'how long the probe may take, image pulls included',
});

export const NO_SCHEDULER_FLAG = booleanFlag(
  'no-scheduler',
  'leave the Dapr scheduler out (its 3 replicas and their etcd volumes): for stacks that use no jobs, workflows or actor reminders; the control plane keeps it for every stack until --scheduler brings it back',
);

export const SCHEDULER_FLAG = booleanFlag('scheduler', 'run the Dapr scheduler again after --no-scheduler (the default)');

export const DAPR_CONTROL_PLANE_FLAG = booleanFlag(
  'dapr-control-plane',
  `destroy-all: also uninstall the cluster-wide Dapr control plane (helm release ${RELEASE} in ${DAPR_NAMESPACE}) when the kit did not install it or another namespace still has Dapr components`,
);

export const DEPLOY_FLAGS: readonly FlagSpec[] = [
  PG_URL_FLAG,
  DAPR_VERSION_FLAG,
  DAPR_CHART_FLAG,
  WITH_REDIS_FLAG,
  NO_REDIS_FLAG,
  WITH_ZIPKIN_FLAG,
  NO_ZIPKIN_FLAG,
  CONTROL_PLANE_ONLY_FLAG,
  NO_SCHEDULER_FLAG,
  SCHEDULER_FLAG,
  CONSUMER_GROUP_FLAG,
  SAMPLING_FLAG,
  ZIPKIN_FLAG,
  NO_NETWORK_POLICIES_FLAG,
  NETWORK_POLICIES_FLAG,
  budgetFlag(BUDGET_MS),
];

export const VERIFY_FLAGS: readonly FlagSpec[] = [KAFKA_BROKERS_FLAG, SKIP_PROBE_FLAG, PROBE_IMAGE_FLAG, PROBE_TIMEOUT_FLAG];

/** The chart to install and what `helm list` will call it once installed. */
export interface ChartChoice {
  ref: ChartRef;
  /** name-version as `helm list` prints it, e.g. dapr-1.18.3 (a chart copied from the Go module says dapr-0.0.0). */
  chartLabel: string;
  /** --set-string values the chart needs (a local chart's image tag). */
  setString: Record<string, string>;
  /** For messages. */
  describe: string;
}

/** Where scripts/images.mts load unpacks a bundle's Dapr chart: install-dapr uses it for the pinned version. */
export const BUNDLE_DIR = '.learnflow/bundle';
export function bundledChartDir(root: string, version: string): string {
  return path.join(root, BUNDLE_DIR, `dapr-chart-${version}`);
}

export function chooseChart(version: string, chartDir: string | undefined, root: string): ChartChoice {
  const v = readVersions().dapr;
  const bundled = bundledChartDir(root, version);
  const useBundle = !chartDir && version === v.version && existsSync(path.join(bundled, 'Chart.yaml'));
  if (!chartDir && !useBundle) {
    return {
      ref: { kind: 'repo', repo: v.repo, name: v.chart, version },
      chartLabel: `${v.chart}-${version}`,
      setString: {},
      describe: `chart ${v.chart} ${version} from ${v.repo}`,
    };
  }
  const dir = useBundle ? bundled : path.resolve(root, chartDir!);
  const chartFile = path.join(dir, 'Chart.yaml');
  if (!existsSync(chartFile)) {
    throw new UsageError(`--dapr-chart ${chartDir}: no Chart.yaml in ${dir}`, {
      fix: 'point it at the chart directory itself (the one holding Chart.yaml, values.yaml, crds/), e.g. charts/dapr of the dapr/dapr sources',
    });
  }
  const meta = parse(readFileSync(chartFile, 'utf8')) as { name?: string; version?: string };
  // A chart from the dapr/dapr sources says version 0.0.0 and image tag "edge": the tag must be set.
  return {
    ref: { kind: 'local', path: dir },
    chartLabel: `${meta.name ?? 'dapr'}-${meta.version ?? '0.0.0'}`,
    setString: { 'global.tag': version },
    describe: useBundle
      ? `the bundled chart ${path.relative(root, bundled)} (from scripts/images.mts load, images ${version})`
      : `local chart ${dir} (chart version ${meta.version ?? '?'}, images ${version})`,
  };
}

export type DaprSettings = ReturnType<typeof daprSettings>;

/**
 * The settings of this run: the flags, and for what they leave open, what the last deploy in this namespace applied
 * (`remembered`); the control plane's own settings, which every stack on the cluster shares, from its live release
 * (`live`: nothing before the first install).
 */
export function daprSettings(ctx: Ctx, remembered: Record<string, string> = {}, live: { scheduler?: boolean } = {}) {
  const o = ctx.config.options;
  const extra = [WITH_REDIS_FLAG, WITH_ZIPKIN_FLAG].find((f) => o.on(CONTROL_PLANE_ONLY_FLAG) && o.on(f));
  if (extra) {
    throw new UsageError(
      `--control-plane-only and --${extra.name} contradict each other: it belongs with the components, which --control-plane-only leaves out`,
      { fix: 'drop one of them' },
    );
  }
  if (o.on(WITH_ZIPKIN_FLAG) && o.get(ZIPKIN_FLAG) !== undefined) {
    throw new UsageError(
      '--with-zipkin and --zipkin-endpoint contradict each other: the first deploys the collector the sidecars send to, the second names another',
      { fix: 'drop one of them' },
    );
  }
  const namespace = ctx.config.namespace;
  const version = o.get(DAPR_VERSION_FLAG) ?? readVersions().dapr.version;
  const redis = chooseSetting({ name: 'Redis', on: WITH_REDIS_FLAG, off: NO_REDIS_FLAG, options: o, remembered: remembered.withRedis, fallback: false });
  const zipkin = chooseSetting({ name: 'Zipkin', on: WITH_ZIPKIN_FLAG, off: NO_ZIPKIN_FLAG, options: o, remembered: remembered.withZipkin, fallback: false });
  const policies = chooseNetworkPolicies(o, remembered);
  const scheduler = chooseSetting({
    name: 'the Dapr scheduler',
    on: SCHEDULER_FLAG,
    off: NO_SCHEDULER_FLAG,
    options: o,
    remembered: live.scheduler === undefined ? undefined : String(live.scheduler),
    fallback: true,
  });
  return {
    why: [redis.why, zipkin.why, policies.why],
    schedulerWhy: scheduler.why,
    namespace,
    version,
    chart: chooseChart(version, flagPath(ctx.config, DAPR_CHART_FLAG, ctx.root), ctx.root),
    valuesPath: path.join(ctx.root, VALUES_FILE),
    withRedis: redis.value,
    controlPlaneOnly: o.on(CONTROL_PLANE_ONLY_FLAG),
    consumerGroup: o.get(CONSUMER_GROUP_FLAG) ?? DEFAULT_CONSUMER_GROUP,
    samplingRate: o.get(SAMPLING_FLAG) ?? '1',
    /** A collector to export spans to; none: no spans are exported. */
    zipkinEndpoint: zipkin.value ? zipkinEndpointIn(namespace) : o.get(ZIPKIN_FLAG),
    /** Redis and Zipkin get a NetworkPolicy like Kafka and PostgreSQL (off with --no-network-policies). */
    networkPolicies: policies.value,
    /** A Zipkin collector in the namespace (--with-zipkin); spans go to it unless --zipkin-endpoint says otherwise. */
    withZipkin: zipkin.value,
    /** The chart's scheduler (global.scheduler.enabled): off with --no-scheduler; else as the live release has it. */
    scheduler: scheduler.value,
  };
}

/** The platform's Zipkin address (zipkin:9411), with the namespace spelled out. */
export function zipkinEndpointIn(namespace: string): string {
  return `http://zipkin.${namespace}.svc.cluster.local:9411/api/v2/spans`;
}
