// Every entry script of the kit, by name -> its ScriptDef, loaded lazily (a component module is imported only when
// its script is asked for). docs/configuration.md is generated from here (scripts/gen-config-docs.mts), and
// test/unit/help.test.ts checks that each script on disk is listed and that its real --help is this ScriptDef's.
//
// An entry script may load its def from here: `runScript(await loadScript('deploy-postgres'))`; then the summary
// lives in one place only.

import type { ScriptDef } from './run.js';

export interface ScriptEntry {
  name: string;
  /** Path from the repository root, e.g. scripts/deploy-postgres.mts */
  path: string;
  load(): Promise<ScriptDef>;
}

const components = async () => (await import('./components/index.js')).COMPONENTS;
const kafka = async () => (await import('./components/kafka/index.js')).kafka;
const postgres = async () => (await import('./components/postgres/index.js')).postgres;

/** Summaries of the component scripts (the entry scripts pass the same text to deployScript/verifyScript). */
export const SUMMARIES = {
  'deploy-postgres':
    'Deploys PostgreSQL into the namespace (official postgres image, 5Gi volume, password generated once and kept in a Secret)\nand applies sql/migrations (9 tables, 24 Python topics, test users). Safe to re-run: nothing applied twice, no data lost.\nWith --no-cluster --pg-url URL it only applies the migrations at URL.',
  'verify-postgres':
    'Checks PostgreSQL: pod ready, volume bound, Service endpoints, connection, the 9 tables with their columns and foreign keys,\nthe 24 topics, the test users, and a write/read round trip that is rolled back. Runs every check; exit 1 if any failed.\nWith --no-cluster --pg-url URL only the data checks run.',
  'deploy-kafka':
    'Deploys Apache Kafka into the namespace (official apache/kafka image, KRaft: each broker is also a controller, no ZooKeeper;\n5Gi volume per broker) and reconciles the topic catalogue k8s/kafka/topics.yaml: creates missing topics, raises partition\ncounts, updates settings; never deletes or shrinks a topic. Safe to re-run.\nWith --no-cluster --kafka-brokers HOST:PORT it only reconciles the topics on that broker.',
  'verify-kafka':
    'Checks Kafka: pods ready, broker metadata reachable, every topic of the catalogue present with its partitions, replication\nand settings, and a produce+consume round trip on every topic (probe messages carry the header learnflow-kit-probe: true).\nRuns every check; exit 1 if any failed. With --no-cluster --kafka-brokers HOST:PORT only the broker checks run.',
} as const;

export const SCRIPTS: readonly ScriptEntry[] = [
  { name: 'deploy-all', path: 'deploy-all.mts', load: async () => (await import('./orchestrate.js')).deployAllScript(await components()) },
  { name: 'verify-all', path: 'verify-all.mts', load: async () => (await import('./orchestrate.js')).verifyAllScript(await components()) },
  { name: 'destroy-all', path: 'destroy-all.mts', load: async () => (await import('./orchestrate.js')).destroyAllScript(await components()) },
  { name: 'deploy-kafka', path: 'scripts/deploy-kafka.mts', load: async () => (await import('./component-scripts.js')).deployScript(await kafka(), 'deploy-kafka', SUMMARIES['deploy-kafka']) },
  { name: 'verify-kafka', path: 'scripts/verify-kafka.mts', load: async () => (await import('./component-scripts.js')).verifyScript(await kafka(), 'verify-kafka', SUMMARIES['verify-kafka']) },
  { name: 'deploy-postgres', path: 'scripts/deploy-postgres.mts', load: async () => (await import('./component-scripts.js')).deployScript(await postgres(), 'deploy-postgres', SUMMARIES['deploy-postgres']) },
  { name: 'verify-postgres', path: 'scripts/verify-postgres.mts', load: async () => (await import('./component-scripts.js')).verifyScript(await postgres(), 'verify-postgres', SUMMARIES['verify-postgres']) },
  { name: 'install-dapr', path: 'scripts/install-dapr.mts', load: async () => (await import('./components/dapr/index.js')).installDaprScript() },
  { name: 'verify-dapr', path: 'scripts/verify-dapr.mts', load: async () => (await import('./components/dapr/index.js')).verifyDaprScript() },
  { name: 'port-forward', path: 'scripts/port-forward.mts', load: async () => (await import('./day2/port-forward.js')).portForwardScript() },
  { name: 'backup-postgres', path: 'scripts/backup-postgres.mts', load: async () => (await import('./day2/backup.js')).backupScript() },
  { name: 'restore-postgres', path: 'scripts/restore-postgres.mts', load: async () => (await import('./day2/backup.js')).restoreScript() },
  { name: 'images', path: 'scripts/images.mts', load: async () => (await import('./day2/images.js')).imagesScript(async () => Object.values(await components())) },
  { name: 'gen-config-docs', path: 'scripts/gen-config-docs.mts', load: async () => (await import('./day2/config-docs.js')).genConfigDocsScript() },
];

export async function loadScript(name: string): Promise<ScriptDef> {
  const entry = SCRIPTS.find((s) => s.name === name);
  if (!entry) throw new Error(`script-registry: no script named ${name} (known: ${SCRIPTS.map((s) => s.name).join(', ')})`);
  return entry.load();
}
