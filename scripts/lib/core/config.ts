// Typed configuration shared by every entry point: common flags, endpoint flags, validation.

import path from 'node:path';
import { UsageError } from './errors.js';
import { booleanFlag, flag, Options, type Flag, type FlagSpec, type FlagValue, type ParsedFlags } from './flags.js';

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

export const HELP_FLAG = flag({ name: 'help', short: 'h', kind: 'boolean', description: 'show this help and exit' });
export const NAMESPACE_FLAG = flag({
  name: 'namespace',
  short: 'n',
  kind: 'string',
  valueName: 'NAME',
  default: 'learnflow',
  env: 'LEARNFLOW_NAMESPACE',
  description: 'namespace of the LearnFlow stack',
  validate: validateNamespace,
});
export const CONTEXT_FLAG = flag({
  name: 'context',
  kind: 'string',
  valueName: 'NAME',
  env: 'LEARNFLOW_CONTEXT',
  aliases: ['kube-context'],
  description: 'kubeconfig context to use (default: the current context)',
});
export const KUBECONFIG_FLAG = flag({
  name: 'kubeconfig',
  kind: 'string',
  valueName: 'FILE',
  clusterOnly: true,
  description: 'kubeconfig file for kubectl and helm (default: $KUBECONFIG or ~/.kube/config)',
});
export const DRY_RUN_FLAG = booleanFlag(
  'dry-run',
  'print what would be applied as one YAML stream on stdout (the plan on stderr); touch nothing, need no cluster',
);
export const JSON_FLAG = booleanFlag('json', 'print exactly one JSON report on stdout (progress stays on stderr); -o json too');
export const VERBOSE_FLAG = booleanFlag('verbose', 'also log every read-only command the kit runs', { short: 'v' });
export const QUIET_FLAG = booleanFlag('quiet', 'log only warnings and failures (the report and --json are unchanged)', { short: 'q' });
export const VERSION_FLAG = booleanFlag('version', "print the kit's version and every pinned component version, and exit");

/** Scripts that ask, or change a cluster, take it (several with a description of their own: same flag, same reading). */
export const YES_FLAG = flag({
  name: 'yes',
  short: 'y',
  kind: 'boolean',
  description: 'go ahead without asking: on a context that does not look like a local cluster, and where the script would ask',
});

export const COMMON_FLAGS: readonly FlagSpec[] = [
  HELP_FLAG,
  NAMESPACE_FLAG,
  CONTEXT_FLAG,
  KUBECONFIG_FLAG,
  DRY_RUN_FLAG,
  JSON_FLAG,
  VERBOSE_FLAG,
  QUIET_FLAG,
  VERSION_FLAG,
];

export const PG_URL_FLAG = flag({
  name: 'pg-url',
  kind: 'string',
  valueName: 'URL',
  env: 'LEARNFLOW_PG_URL',
  description: 'reach PostgreSQL here instead of through a port-forward (postgres://user:pw@host:port/db)',
  validate: validatePgUrl,
});

export const KAFKA_BROKERS_FLAG = flag({
  name: 'kafka-brokers',
  kind: 'list',
  valueName: 'HOST:PORT,...',
  env: 'LEARNFLOW_KAFKA_BROKERS',
  description: 'reach Kafka here instead of through a port-forward',
  validate: validateBrokers,
});

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
export function budgetFlag(defaultMs: number): Flag<'duration'> {
  return flag({
    name: 'budget',
    kind: 'duration',
    valueName: 'DURATION',
    aliases: ['timeout'],
    default: defaultMs,
    description: `deadline for this component; exceeding it fails the run`,
  });
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
  /** Every flag the script declared, read through its Flag (typed, defaults filled in). */
  options: Options;
}

export function buildConfig(parsed: ParsedFlags): KitConfig {
  const o = new Options(parsed.values, parsed.given);
  const kubeconfig = o.get(KUBECONFIG_FLAG);
  const config: KitConfig = {
    namespace: o.get(NAMESPACE_FLAG) ?? 'learnflow',
    context: o.get(CONTEXT_FLAG),
    dryRun: o.on(DRY_RUN_FLAG),
    json: o.on(JSON_FLAG),
    verbose: o.on(VERBOSE_FLAG),
    quiet: o.on(QUIET_FLAG),
    kubeconfig: kubeconfig === undefined ? undefined : path.resolve(process.cwd(), kubeconfig),
    noCluster: o.on(NO_CLUSTER_FLAG),
    pgUrl: o.get(PG_URL_FLAG),
    kafkaBrokers: o.get(KAFKA_BROKERS_FLAG),
    args: parsed.positionals,
    options: o,
  };
  if (config.noCluster) {
    const missing = [
      o.declares(PG_URL_FLAG) && !config.pgUrl ? '--pg-url (or LEARNFLOW_PG_URL)' : '',
      o.declares(KAFKA_BROKERS_FLAG) && !config.kafkaBrokers ? '--kafka-brokers (or LEARNFLOW_KAFKA_BROKERS)' : '',
    ].filter(Boolean);
    if (missing.length) throw new UsageError(`--no-cluster needs ${missing.join(' and ')}: there is no port-forward to fall back on`);
    if (o.given(CONTEXT_FLAG)) throw new UsageError('--no-cluster and --context contradict each other: --no-cluster talks to no cluster');
    // Flags that only mean something to the cluster side: refused rather than silently ignored.
    const clusterOnly = o.givenOf(parsed.clusterOnly ?? []);
    if (clusterOnly.length)
      throw new UsageError(
        `--no-cluster and ${clusterOnly.map((f) => `--${f}`).join(', ')} contradict each other: ${clusterOnly.length > 1 ? 'they change' : 'it changes'} the cluster, which --no-cluster does not touch`,
        { fix: 'drop --no-cluster, or drop those flags' },
      );
  }
  if (config.verbose && config.quiet) throw new UsageError('--verbose and --quiet contradict each other: give one');
  return config;
}

/** A path flag's file: a value the user typed resolves against where they stand, the default against the repository. */
export function flagPath(config: Pick<KitConfig, 'options'>, f: Flag<'string'>, root: string, fallback?: string): string | undefined {
  const value = config.options.get(f);
  if (value === undefined || value === '') return fallback === undefined ? undefined : path.resolve(root, fallback);
  return path.resolve(config.options.given(f) ? process.cwd() : root, value);
}

/** A path to print: relative to where the user stands when it is below it, absolute otherwise. */
export function shownPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}
