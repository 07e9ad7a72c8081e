// Every entry script of the kit, by name -> its ScriptDef, loaded lazily (a component module is imported only when
// its script is asked for). docs/configuration.md is generated from here (scripts/gen-config-docs.mts), and
// test/unit/help.test.ts checks that each script on disk is listed and that its real --help is this ScriptDef's.
//
// An entry script may load its def from here: `runScript(await loadScript('deploy-postgres'))`; then the summary
// lives in one place only.

import type { ScriptDef, ScriptEntry } from '../kube/script.js';

export type { ScriptEntry } from '../kube/script.js';

const components = async () => (await import('../components/index.js')).COMPONENTS;
const kafka = async () => (await import('../components/kafka/index.js')).kafka;
const postgres = async () => (await import('../components/postgres/index.js')).postgres;

export const SCRIPTS: readonly ScriptEntry[] = [
  { name: 'deploy-all', path: 'deploy-all.mts', load: async () => (await import('../workflows/deploy-verify-all.js')).deployAllScript(await components()) },
  { name: 'verify-all', path: 'verify-all.mts', load: async () => (await import('../workflows/deploy-verify-all.js')).verifyAllScript(await components()) },
  { name: 'destroy-all', path: 'destroy-all.mts', load: async () => (await import('../workflows/deploy-verify-all.js')).destroyAllScript(await components()) },
  {
    name: 'deploy-kafka',
    path: 'scripts/deploy-kafka.mts',
    load: async () => (await import('../workflows/component-scripts.js')).deployScript(await kafka(), 'deploy-kafka'),
  },
  {
    name: 'verify-kafka',
    path: 'scripts/verify-kafka.mts',
    load: async () => (await import('../workflows/component-scripts.js')).verifyScript(await kafka(), 'verify-kafka'),
  },
  {
    name: 'deploy-postgres',
    path: 'scripts/deploy-postgres.mts',
    load: async () => (await import('../workflows/component-scripts.js')).deployScript(await postgres(), 'deploy-postgres'),
  },
  {
    name: 'verify-postgres',
    path: 'scripts/verify-postgres.mts',
    load: async () => (await import('../workflows/component-scripts.js')).verifyScript(await postgres(), 'verify-postgres'),
  },
  {
    name: 'install-dapr',
    path: 'scripts/install-dapr.mts',
    load: async () => (await import('../workflows/component-scripts.js')).deployScript((await import('../components/dapr/index.js')).dapr, 'install-dapr'),
  },
  {
    name: 'verify-dapr',
    path: 'scripts/verify-dapr.mts',
    load: async () => (await import('../workflows/component-scripts.js')).verifyScript((await import('../components/dapr/index.js')).dapr, 'verify-dapr'),
  },
  { name: 'port-forward', path: 'scripts/port-forward.mts', load: async () => (await import('../tools/port-forward.js')).portForwardScript() },
  { name: 'backup-postgres', path: 'scripts/backup-postgres.mts', load: async () => (await import('../tools/backup.js')).backupScript() },
  { name: 'restore-postgres', path: 'scripts/restore-postgres.mts', load: async () => (await import('../tools/backup.js')).restoreScript() },
  { name: 'status', path: 'status.mts', load: async () => (await import('../tools/status.js')).statusScript() },
  { name: 'reset-data', path: 'scripts/reset-data.mts', load: async () => (await import('../tools/reset.js')).resetScript() },
  {
    name: 'images',
    path: 'scripts/images.mts',
    load: async () => (await import('../tools/images.js')).imagesScript(async () => Object.values(await components())),
  },
  { name: 'gen-config-docs', path: 'scripts/gen-config-docs.mts', load: async () => (await import('../dev/config-docs.js')).genConfigDocsScript(SCRIPTS) },
];

export async function loadScript(name: string): Promise<ScriptDef> {
  const entry = SCRIPTS.find((s) => s.name === name);
  if (!entry) throw new Error(`script-registry: no script named ${name} (known: ${SCRIPTS.map((s) => s.name).join(', ')})`);
  return entry.load();
}
