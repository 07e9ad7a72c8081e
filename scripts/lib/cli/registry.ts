// Every entry script by name, its ScriptDef built when asked for: docs/configuration.md is generated from it, and
// test/cli/help.test.ts checks each script on disk is listed with its real --help. The entry scripts import what they
// run directly; each component's two scripts come from its declaration (Component.scripts).

import { COMPONENTS } from '../components/index.js';
import type { ScriptDef, ScriptEntry } from '../run/script.js';

export type { ScriptEntry } from '../run/script.js';

const componentScripts = async () => import('../workflows/component-scripts.js');

export const SCRIPTS: readonly ScriptEntry[] = [
  { name: 'deploy-all', path: 'deploy-all.mts', load: async () => (await import('../workflows/deploy-verify-all.js')).deployAllScript(COMPONENTS) },
  { name: 'verify-all', path: 'verify-all.mts', load: async () => (await import('../workflows/deploy-verify-all.js')).verifyAllScript(COMPONENTS) },
  { name: 'destroy-all', path: 'destroy-all.mts', load: async () => (await import('../workflows/deploy-verify-all.js')).destroyAllScript(COMPONENTS) },
  ...Object.values(COMPONENTS).flatMap((c): ScriptEntry[] => [
    { name: c.scripts.deploy, path: `scripts/${c.scripts.deploy}.mts`, load: async () => (await componentScripts()).deployScript(c) },
    { name: c.scripts.verify, path: `scripts/${c.scripts.verify}.mts`, load: async () => (await componentScripts()).verifyScript(c) },
  ]),
  { name: 'port-forward', path: 'scripts/port-forward.mts', load: async () => (await import('../tools/port-forward.js')).portForwardScript() },
  { name: 'backup-postgres', path: 'scripts/backup-postgres.mts', load: async () => (await import('../tools/backup.js')).backupScript() },
  { name: 'restore-postgres', path: 'scripts/restore-postgres.mts', load: async () => (await import('../tools/backup.js')).restoreScript() },
  { name: 'status', path: 'status.mts', load: async () => (await import('../tools/status.js')).statusScript(Object.values(COMPONENTS)) },
  { name: 'reset-data', path: 'scripts/reset-data.mts', load: async () => (await import('../tools/reset.js')).resetScript() },
  {
    name: 'images',
    path: 'scripts/images.mts',
    load: async () => (await import('../tools/images.js')).imagesScript(Object.values(COMPONENTS)),
  },
  { name: 'gen-config-docs', path: 'scripts/gen-config-docs.mts', load: async () => (await import('../dev/config-docs.js')).genConfigDocsScript(SCRIPTS) },
];

export async function loadScript(name: string): Promise<ScriptDef> {
  const entry = SCRIPTS.find((s) => s.name === name);
  if (!entry) throw new Error(`script-registry: no script named ${name} (known: ${SCRIPTS.map((s) => s.name).join(', ')})`);
  return entry.load();
}
