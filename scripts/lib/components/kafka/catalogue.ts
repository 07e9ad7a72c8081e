// k8s/kafka/topics.yaml: the LearnFlow topics as data. Loaded and validated in full before anything is
// contacted; every problem names the file, the topic and the field.

import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { UsageError } from '../../core/errors.js';
import { flag } from '../../core/flags.js';
import { minIsrFor } from '../shared/kafka-topology.js';

export const DEFAULT_CATALOGUE = 'k8s/kafka/topics.yaml';

export const TOPICS_FLAG = flag({
  name: 'topics',
  kind: 'string',
  valueName: 'FILE',
  default: DEFAULT_CATALOGUE,
  description: 'the topic catalogue (a data file, not a manifest)',
});

export const COMPRESSIONS = ['snappy', 'gzip', 'lz4', 'zstd', 'uncompressed', 'producer'] as const;
export const CLEANUP_POLICIES = ['delete', 'compact', 'compact,delete'] as const;
/** Set through their own fields (or derived): not allowed under `config`. */
const MANAGED = ['retention.ms', 'compression.type', 'cleanup.policy', 'min.insync.replicas'];

export interface CatalogueTopic {
  name: string;
  description?: string;
  partitions: number;
  retentionMs: number;
  compression: (typeof COMPRESSIONS)[number];
  cleanupPolicy: (typeof CLEANUP_POLICIES)[number];
  /** Extra topic settings by Kafka name. */
  config: Record<string, string>;
}

export interface Catalogue {
  source: string;
  topics: CatalogueTopic[];
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "7d" -> 604800000. One number and one unit; a bare number is refused (seconds or milliseconds?). */
export function parseRetention(text: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

/** 604800000 -> "7d", 5400000 -> "90m": the largest unit that divides it. */
export function formatRetention(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) if (ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`;
  return `${ms}ms`;
}

const NAME = /^[a-z0-9][a-z0-9.-]{0,248}$/;

export function parseCatalogue(text: string, source: string): Catalogue {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new UsageError(`${source}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, { fix: `fix the YAML in ${source}` });
  }
  const problems: string[] = [];
  const topics: CatalogueTopic[] = [];
  const list = (doc as { topics?: unknown } | null)?.topics;
  if (!Array.isArray(list) || list.length === 0) {
    throw new UsageError(`${source}: expected a non-empty list under "topics:"`, { fix: `see the header comment of ${DEFAULT_CATALOGUE} for the format` });
  }
  const seen = new Map<string, string>();
  list.forEach((raw: unknown, index) => {
    const where = (field: string) =>
      `topic ${typeof (raw as { name?: unknown })?.name === 'string' ? `'${(raw as { name: string }).name}'` : `#${index + 1}`}: ${field}`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      problems.push(`topic #${index + 1}: expected a mapping with name, partitions, retention, compression, cleanupPolicy`);
      return;
    }
    const t = raw as Record<string, unknown>;
    const known = ['name', 'description', 'partitions', 'retention', 'compression', 'cleanupPolicy', 'config'];
    for (const k of Object.keys(t)) if (!known.includes(k)) problems.push(where(`unknown field '${k}' (fields: ${known.join(', ')})`));
    const before = problems.length;

    const name = t.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      problems.push(where(`name must be lower-case letters, digits, '.' and '-' (e.g. learning.queries), got ${JSON.stringify(name)}`));
    } else {
      // Kafka uses topic names in metric names with '.' replaced by '_': names differing only there collide.
      const key = name.replace(/\./g, '_');
      if (seen.has(key)) problems.push(where(`name is a duplicate of '${seen.get(key)}'`));
      seen.set(key, name);
    }
    const partitions = t.partitions;
    if (typeof partitions !== 'number' || !Number.isInteger(partitions) || partitions < 1 || partitions > 10_000) {
      problems.push(where(`partitions must be a whole number from 1 to 10000, got ${JSON.stringify(partitions)}`));
    }
    const retentionMs = typeof t.retention === 'string' ? parseRetention(t.retention) : undefined;
    if (retentionMs === undefined) problems.push(where(`retention must be a duration like 7d, 12h or 30m, got ${JSON.stringify(t.retention)}`));
    if (typeof t.compression !== 'string' || !(COMPRESSIONS as readonly string[]).includes(t.compression)) {
      problems.push(where(`compression must be one of ${COMPRESSIONS.join(', ')}, got ${JSON.stringify(t.compression)}`));
    }
    const cleanup = typeof t.cleanupPolicy === 'string' ? normaliseCleanup(t.cleanupPolicy) : undefined;
    if (!cleanup || !(CLEANUP_POLICIES as readonly string[]).includes(cleanup)) {
      problems.push(where(`cleanupPolicy must be one of ${CLEANUP_POLICIES.join(', ')}, got ${JSON.stringify(t.cleanupPolicy)}`));
    }
    if (t.description !== undefined && typeof t.description !== 'string') problems.push(where('description must be text'));
    const config: Record<string, string> = {};
    if (t.config !== undefined) {
      if (!t.config || typeof t.config !== 'object' || Array.isArray(t.config)) {
        problems.push(where('config must be a mapping of Kafka topic settings, e.g. max.message.bytes: "10485760"'));
      } else {
        for (const [k, v] of Object.entries(t.config as Record<string, unknown>)) {
          if (MANAGED.includes(k))
            problems.push(
              where(`config.${k} is managed by the kit (use the retention/compression/cleanupPolicy fields; min.insync.replicas follows the broker count)`),
            );
          else if (!/^[a-z][a-z0-9.]*$/.test(k)) problems.push(where(`config key '${k}' is not a Kafka topic setting name`));
          else if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') problems.push(where(`config.${k} must be a single value`));
          else config[k] = String(v);
        }
      }
    }
    if (problems.length > before) return;
    topics.push({
      name: name as string,
      ...(typeof t.description === 'string' ? { description: t.description } : {}),
      partitions: partitions as number,
      retentionMs: retentionMs!,
      compression: t.compression as CatalogueTopic['compression'],
      cleanupPolicy: cleanup as CatalogueTopic['cleanupPolicy'],
      config,
    });
  });
  if (problems.length) {
    throw new UsageError(`${source}: ${problems.length === 1 ? problems[0] : `${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`}`, {
      fix: `fix ${source} (its header comment describes every field)`,
    });
  }
  return { source, topics };
}

/** `file`: absolute (as config.flagPath gives it) or relative to `root`. */
export function loadCatalogue(root: string, file: string = DEFAULT_CATALOGUE): Catalogue {
  const full = path.resolve(root, file);
  const rel = path.relative(process.cwd(), full);
  const shown = rel && !rel.startsWith('..') ? rel : full;
  if (!existsSync(full))
    throw new UsageError(`--topics: ${shown} does not exist`, { fix: `give the topic catalogue file, e.g. --topics ${DEFAULT_CATALOGUE}` });
  if (statSync(full).isDirectory())
    throw new UsageError(`--topics: ${shown} is a folder, not the catalogue file`, {
      fix: `give the file itself, e.g. --topics ${path.join(shown, 'topics.yaml')}`,
    });
  return parseCatalogue(readFileSync(full, 'utf8'), shown);
}

export function normaliseCleanup(value: string): string {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .sort()
    .join(',');
}

/** The topic settings the kit manages, as Kafka names and values, for a topic with this replication factor. */
export function desiredConfigs(topic: CatalogueTopic, replicationFactor: number): Record<string, string> {
  return {
    'retention.ms': String(topic.retentionMs),
    'compression.type': topic.compression,
    'cleanup.policy': topic.cleanupPolicy,
    'min.insync.replicas': String(minIsrFor(replicationFactor)),
    ...topic.config,
  };
}
