// Typed configuration shared by every entry point: common flags, endpoint flags, validation.

import path from 'node:path';
import { UsageError } from './errors.js';
import { booleanFlag, type FlagSpec, type FlagValue, type ParsedFlags } from './flags.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function validateNamespace(v: FlagValue): string | undefined {
  const s = String(v);
  if (s.length > 63 || !DNS_LABEL.test(s)) return `'${s}' is not a valid namespace (lower-case letters, digits and '-', at most 63 characters, e.g. learnflow)`;
  return undefined;
}

export function validatePgUrl(v: FlagValue): string | undefined {
  const s = String(v);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return `not a URL; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE`;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return `scheme must be postgres:// or postgresql://, got ${url.protocol}//`;
  if (!url.hostname) return 'the URL has no host; expected postgres://USER:PASSWORD@HOST:PORT/DATABASE';
  return undefined;
}

export function validateBrokers(v: FlagValue): string | undefined {
  const list = v as string[];
  if (list.length === 0) return 'give at least one HOST:PORT';
  const bad = list.find((b) => !/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(b) || Number(b.split(':').pop()) > 65535);
  return bad ? `'${bad}' is not HOST:PORT (e.g. localhost:9092)` : undefined;
}

export const COMMON_FLAGS: readonly FlagSpec[] = [
  { name: 'help', short: 'h', kind: 'boolean', description: 'show this help and exit' },
  {
    name: 'namespace',
    short: 'n',
    kind: 'string',
    valueName: 'NAME',
    default: 'learnflow',
    env: 'LEARNFLOW_NAMESPACE',
    description: 'namespace of the LearnFlow stack',
    validate: validateNamespace,
  },
  {
    name: 'context',
    kind: 'string',
    valueName: 'NAME',
    env: 'LEARNFLOW_CONTEXT',
    aliases: ['kube-context'],
    description: 'kubeconfig context to use (default: the current context)',
  },
  {
    name: 'kubeconfig',
    kind: 'string',
    valueName: 'FILE',
    clusterOnly: true,
    description: 'kubeconfig file for kubectl and helm (default: $KUBECONFIG or ~/.kube/config)',
  },
  {
    name: 'dry-run',
    kind: 'boolean',
    description: 'print what would be applied as one YAML stream on stdout (the plan on stderr); touch nothing, need no cluster',
  },
  { name: 'json', kind: 'boolean', description: 'print exactly one JSON report on stdout (progress stays on stderr); -o json too' },
  { name: 'verbose', short: 'v', kind: 'boolean', description: 'also log every read-only command the kit runs' },
  { name: 'quiet', short: 'q', kind: 'boolean', description: 'log only warnings and failures (the report and --json are unchanged)' },
  { name: 'version', kind: 'boolean', description: "print the kit's version and every pinned component version, and exit" },
];

export const PG_URL_FLAG: FlagSpec = {
  name: 'pg-url',
  kind: 'string',
  valueName: 'URL',
  env: 'LEARNFLOW_PG_URL',
  description: 'reach PostgreSQL here instead of through a port-forward (postgres://user:pw@host:port/db)',
  validate: validatePgUrl,
};

export const KAFKA_BROKERS_FLAG: FlagSpec = {
  name: 'kafka-brokers',
  kind: 'list',
  valueName: 'HOST:PORT,...',
  env: 'LEARNFLOW_KAFKA_BROKERS',
  description: 'reach Kafka here instead of through a port-forward',
  validate: validateBrokers,
};

export const NO_CLUSTER_FLAG = booleanFlag('no-cluster', 'skip every kubectl/helm step; do only the data-plane work against --pg-url / --kafka-brokers');

export const NO_NETWORK_POLICIES_FLAG = booleanFlag(
  'no-network-policies',
  'do not create the NetworkPolicies that limit Kafka, PostgreSQL and Redis to pods of the namespace (remembered: later runs keep it)',
);

export const NETWORK_POLICIES_FLAG = booleanFlag(
  'network-policies',
  'create the NetworkPolicies again after an earlier --no-network-policies (the default on a first deploy)',
);

/** A component script's --budget, defaulting to the component's own budget. */
export function budgetFlag(defaultMs: number): FlagSpec {
  return {
    name: 'budget',
    kind: 'duration',
    valueName: 'DURATION',
    aliases: ['timeout'],
    default: defaultMs,
    description: `deadline for this component; exceeding it fails the run`,
  };
}

export interface KitConfig {
  namespace: string;
  context?: string;
  dryRun: boolean;
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  /** --kubeconfig, resolved: handed to kubectl and helm as KUBECONFIG. */
  kubeconfig?: string;
  noCluster: boolean;
  pgUrl?: string;
  kafkaBrokers?: string[];
  /** The arguments besides flags, in order (a subcommand, a FILE), for scripts that take them. */
  args: string[];
  /** Everything else the script declared, by flag name. */
  flags: Record<string, FlagValue | undefined>;
  given: Set<string>;
}

export function buildConfig(parsed: ParsedFlags): KitConfig {
  const v = parsed.values;
  const config: KitConfig = {
    namespace: String(v.namespace ?? 'learnflow'),
    context: v.context === undefined ? undefined : String(v.context),
    dryRun: v['dry-run'] === true,
    json: v.json === true,
    verbose: v.verbose === true,
    quiet: v.quiet === true,
    kubeconfig: v.kubeconfig === undefined ? undefined : path.resolve(process.cwd(), String(v.kubeconfig)),
    noCluster: v['no-cluster'] === true,
    pgUrl: v['pg-url'] === undefined ? undefined : String(v['pg-url']),
    kafkaBrokers: v['kafka-brokers'] as string[] | undefined,
    args: parsed.positionals,
    flags: v,
    given: parsed.given,
  };
  if (config.noCluster) {
    const needsPg = 'pg-url' in v;
    const needsKafka = 'kafka-brokers' in v;
    const missing = [
      needsPg && !config.pgUrl ? '--pg-url (or LEARNFLOW_PG_URL)' : '',
      needsKafka && !config.kafkaBrokers ? '--kafka-brokers (or LEARNFLOW_KAFKA_BROKERS)' : '',
    ].filter(Boolean);
    if (missing.length) throw new UsageError(`--no-cluster needs ${missing.join(' and ')}: there is no port-forward to fall back on`);
    if (config.given.has('context')) throw new UsageError('--no-cluster and --context contradict each other: --no-cluster talks to no cluster');
    // Flags that only mean something to the cluster side: refused rather than silently ignored.
    const clusterOnly = [...(parsed.clusterOnly ?? [])].filter((f) => config.given.has(f));
    if (clusterOnly.length)
      throw new UsageError(
        `--no-cluster and ${clusterOnly.map((f) => `--${f}`).join(', ')} contradict each other: ${clusterOnly.length > 1 ? 'they change' : 'it changes'} the cluster, which --no-cluster does not touch`,
        { fix: 'drop --no-cluster, or drop those flags' },
      );
  }
  if (config.verbose && config.quiet) throw new UsageError('--verbose and --quiet contradict each other: give one');
  return config;
}

/**
 * A path flag's file: what the user typed resolves against where they stand (like -o/-i of backup and restore);
 * the default names one of the kit's own files and resolves against the repository.
 */
export function flagPath(config: Pick<KitConfig, 'flags' | 'given'>, name: string, root: string, fallback?: string): string | undefined {
  const value = config.flags[name];
  if (value === undefined || value === '') return fallback === undefined ? undefined : path.resolve(root, fallback);
  return path.resolve(config.given.has(name) ? process.cwd() : root, String(value));
}

/** A path to print: relative to where the user stands when it is below it, absolute otherwise. */
export function shownPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}
