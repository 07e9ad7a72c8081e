// Every entry script of the kit, by name -> its ScriptDef, loaded lazily (a component module is imported only when
// its script is asked for). docs/configuration.md is generated from here (scripts/gen-config-docs.mts), and
// test/unit/help.test.ts checks that each script on disk is listed and that its real --help is this ScriptDef's.
//
// An entry script may load its def from here: `runScript(await loadScript('deploy-postgres'))`; then the summary
// lives in one place only.

import type { ComponentName } from '../core/budget.js';
import type { Component } from '../components/types.js';
import type { ScriptDef, ScriptEntry } from '../kube/script.js';

export type { ScriptEntry } from '../kube/script.js';

const components = async () => (await import('../components/index.js')).COMPONENTS;

/** Each component's two scripts (Dapr's deploy is install-dapr, the word Dapr's own docs use), its module loaded only for them. */
const COMPONENT_SCRIPTS: readonly { component: ComponentName; deploy: string; load: () => Promise<Component> }[] = [
  { component: 'kafka', deploy: 'deploy-kafka', load: async () => (await import('../components/kafka/index.js')).kafka },
  { component: 'postgres', deploy: 'deploy-postgres', load: async () => (await import('../components/postgres/index.js')).postgres },
  { component: 'dapr', deploy: 'install-dapr', load: async () => (await import('../components/dapr/index.js')).dapr },
];

const componentScripts = async () => import('../workflows/component-scripts.js');

export const SCRIPTS: readonly ScriptEntry[] = [
  { name: 'deploy-all', path: 'deploy-all.mts', load: async () => (await import('../workflows/deploy-verify-all.js')).deployAllScript(await components()) },
  { name: 'verify-all', path: 'verify-all.mts', load: async () => (await import('../workflows/deploy-verify-all.js')).verifyAllScript(await components()) },
  { name: 'destroy-all', path: 'destroy-all.mts', load: async () => (await import('../workflows/deploy-verify-all.js')).destroyAllScript(await components()) },
  ...COMPONENT_SCRIPTS.flatMap(({ component, deploy, load }): ScriptEntry[] => [
    { name: deploy, path: `scripts/${deploy}.mts`, load: async () => (await componentScripts()).deployScript(await load(), deploy) },
    {
      name: `verify-${component}`,
      path: `scripts/verify-${component}.mts`,
      load: async () => (await componentScripts()).verifyScript(await load(), `verify-${component}`),
    },
  ]),
  { name: 'port-forward', path: 'scripts/port-forward.mts', load: async () => (await import('../tools/port-forward.js')).portForwardScript() },
  { name: 'backup-postgres', path: 'scripts/backup-postgres.mts', load: async () => (await import('../tools/backup.js')).backupScript() },
  { name: 'restore-postgres', path: 'scripts/restore-postgres.mts', load: async () => (await import('../tools/backup.js')).restoreScript() },
  { name: 'status', path: 'status.mts', load: async () => (await import('../tools/status.js')).statusScript(async () => Object.values(await components())) },
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
