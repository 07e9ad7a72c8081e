// scripts/reset-data.mts: back to the seeded state between test runs, in seconds. Empties the LearnFlow tables and
// applies the seed again, deletes the records of the catalogue's topics (delete-records up to the end, not the
// topics), and empties the Dapr state store's table. Schema, topics, settings, roles and credentials stay.

import { inTransaction } from '../components/shared/postgres-client.js';
import type pg from 'pg';
import { KAFKA_BROKERS_FLAG, NO_CLUSTER_FLAG, PG_URL_FLAG } from '../core/config.js';
import type { StepCtx } from '../run/context.js';
import { UsageError } from '../core/errors.js';
import { flag, type FlagSpec } from '../core/flags.js';
import { confirm, isInteractive } from '../core/prompt.js';
import type { RunResult, ScriptDef } from '../run/script.js';
import { runStep } from '../run/steps.js';
import { DEFAULT_CATALOGUE, loadCatalogue, TOPICS_FLAG } from '../components/kafka/catalogue.js';
import { connectKafka, openEndpoint } from '../components/shared/kafka-client.js';
import { STATEFULSET as KAFKA_STATEFULSET } from '../components/shared/kafka-topology.js';
import { withPostgres } from '../components/shared/postgres-connection.js';
import { EXPECTED_TABLES } from '../components/postgres/expected-schema.js';
import { loadMigrations, MIGRATIONS_FLAG } from '../components/postgres/migrate.js';
import { STATE_SCHEMA } from '../components/dapr/settings.js';
import { flagPath, YES_FLAG } from '../core/config.js';
import { withTimeout } from '../core/wait.js';

/** The seed migrations: applied again after the tables are emptied (each is re-run safe: ON CONFLICT DO NOTHING). */
const SEED = /_seed_/;

const ONLY_FLAG = flag({
  name: 'only',
  kind: 'list',
  valueName: 'PARTS',
  choices: ['postgres', 'kafka', 'dapr-state'],
  description: 'reset only these parts (default: all three)',
});

const RESET_FLAGS: readonly FlagSpec[] = [PG_URL_FLAG, KAFKA_BROKERS_FLAG, NO_CLUSTER_FLAG, ONLY_FLAG];

/** Empties the LearnFlow tables (one TRUNCATE, identities restarted) and applies the seed again, in one transaction. */
export async function resetTables(client: pg.Client, seeds: readonly { name: string; sql: string }[]): Promise<{ tables: number; seeds: string[] }> {
  const tables = Object.keys(EXPECTED_TABLES);
  await inTransaction(client, async () => {
    await client.query(`TRUNCATE ${tables.map((t) => `public.${client.escapeIdentifier(t)}`).join(', ')} RESTART IDENTITY CASCADE`);
    for (const s of seeds) await client.query(s.sql);
  });
  return { tables: tables.length, seeds: seeds.map((s) => s.name) };
}

/** Dapr's state rows (its table in the state store's schema), when the state store was ever used. */
export async function resetDaprState(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`${STATE_SCHEMA}.state`]);
  if (!rows[0]?.t) return 0;
  const r = await client.query(`DELETE FROM ${client.escapeIdentifier(STATE_SCHEMA)}.state`);
  return r.rowCount ?? 0;
}

async function reset(step: StepCtx, parts: readonly string[]): Promise<void> {
  if (parts.includes('postgres') || parts.includes('dapr-state')) {
    const seeds = loadMigrations(flagPath(step.config, MIGRATIONS_FLAG, step.root, 'sql/migrations')!).filter((m) => SEED.test(m.name));
    await withPostgres(step, async (client) => {
      if (parts.includes('postgres')) {
        const r = await resetTables(client, seeds);
        step.change('LearnFlow tables', 'emptied');
        for (const s of r.seeds) step.change(`seed ${s}`, 'applied');
        step.log.ok(`emptied the ${r.tables} LearnFlow tables and applied the seed again (${r.seeds.join(', ')})`);
      }
      if (parts.includes('dapr-state')) {
        const n = await resetDaprState(client);
        step.change('Dapr state', `${n} key(s) deleted`);
        step.log.ok(`Dapr state store: ${n} key(s) deleted`);
      }
    });
  }
  if (parts.includes('kafka')) {
    const catalogue = loadCatalogue(step.root, flagPath(step.config, TOPICS_FLAG, step.root, DEFAULT_CATALOGUE));
    const sts = step.config.noCluster ? undefined : await step.kube.getOptional<{ spec?: { replicas?: number } }>('statefulset', KAFKA_STATEFULSET);
    const session = await connectKafka(step, await openEndpoint(step, sts?.spec?.replicas ?? 1));
    try {
      const existing = new Set(await session.admin.listTopics());
      let total = 0;
      for (const t of catalogue.topics.filter((x) => existing.has(x.name))) {
        const offsets = await session.admin.fetchTopicOffsets(t.name);
        const records = offsets.reduce((n, p) => n + (Number(p.high) - Number(p.low)), 0);
        if (records === 0) continue;
        // Up to the end of every partition: the topic, its partitions and settings stay; its records go.
        await withTimeout(
          session.admin.deleteTopicRecords({ topic: t.name, partitions: offsets.map((p) => ({ partition: p.partition, offset: p.high })) }),
          15_000,
          `deleting the records of ${t.name}`,
        );
        step.change(`topic ${t.name}`, `${records} record(s) deleted`);
        total += records;
      }
      step.log.ok(`Kafka: ${total} record(s) deleted from ${catalogue.topics.length} topics (the topics and their settings stay)`);
    } finally {
      await session.close();
    }
  }
}

export function resetScript(ask: (q: string) => Promise<boolean> = confirm, interactive: () => boolean = isInteractive): ScriptDef {
  return {
    name: 'reset-data',
    summary: [
      'Back to the seeded state: empties the LearnFlow tables and applies the seed again, deletes the records of the catalogue topics',
      '(the topics stay), and empties the Dapr state store. Schema, topics, settings, roles and credentials are kept.',
      'Asks first; without a terminal it needs --yes.',
    ].join('\n'),
    flags: RESET_FLAGS,
    footer: 'Exit codes: 0 reset, 1 a part failed, 2 bad usage or not confirmed, 3 environment not ready.',
    changesCluster: () => ({ what: 'delete its data' }),
    async run(ctx): Promise<RunResult> {
      const parts = ctx.config.options.get(ONLY_FLAG) ?? ['postgres', 'kafka', 'dapr-state'];
      const what = `${parts.join(', ')} data of the stack in namespace ${ctx.config.namespace}`;
      if (ctx.config.dryRun) {
        ctx.log.info(`dry run: would delete the ${what} (tables emptied and seeded again, topic records deleted, Dapr state emptied)`);
        return { steps: [], budgetMs: null };
      }
      if (!ctx.config.options.on(YES_FLAG)) {
        if (!interactive()) throw new UsageError(`refusing to delete the ${what} without confirmation: no terminal to ask`, { fix: 'add --yes' });
        if (!(await ask(`Delete the ${what}${ctx.config.context ? ` (context ${ctx.config.context})` : ''}?`)))
          throw new UsageError('not confirmed; nothing was deleted');
      }
      const step = await runStep(ctx, { name: 'reset-data', budgetMs: null, run: (s) => reset(s, parts) });
      return { steps: [step], budgetMs: null };
    },
  };
}
