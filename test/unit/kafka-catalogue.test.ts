// k8s/kafka/topics.yaml: the shipped catalogue, and a clear error for every way a file can be wrong.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../scripts/lib/core/errors.js';
import { REPO_ROOT } from '../../scripts/lib/core/repo.js';
import { desiredConfigs, formatRetention, loadCatalogue, parseCatalogue, parseRetention } from '../../scripts/lib/components/kafka/catalogue.js';

const DAY = 86_400_000;

describe('the shipped catalogue', () => {
  const catalogue = loadCatalogue(REPO_ROOT);

  it('has the nine FR-002 topics and the dead-letter queue of seed 000', () => {
    expect(catalogue.source).toBe('k8s/kafka/topics.yaml');
    expect(catalogue.topics.map((t) => t.name)).toEqual([
      'learning.queries',
      'learning.responses',
      'code-execution.requests',
      'code-execution.results',
      'exercise.assignments',
      'exercise.submissions',
      'exercise.grading',
      'struggle.detection',
      'progress.updates',
      'dead-letter.queue',
    ]);
  });

  it('event topics keep 7 days with snappy, dead letters 30 days with gzip (seed 000); all delete', () => {
    for (const t of catalogue.topics) {
      const dead = t.name === 'dead-letter.queue';
      expect(t.retentionMs, t.name).toBe((dead ? 30 : 7) * DAY);
      expect(t.compression, t.name).toBe(dead ? 'gzip' : 'snappy');
      expect(t.cleanupPolicy, t.name).toBe('delete');
      expect(t.partitions, t.name).toBeGreaterThanOrEqual(3);
      expect(t.description, t.name).toBeTruthy();
    }
  });

  it('turns a topic into the Kafka settings the kit manages, min ISR from the replication factor', () => {
    const dlq = catalogue.topics.find((t) => t.name === 'dead-letter.queue')!;
    expect(desiredConfigs(dlq, 1)).toEqual({
      'retention.ms': String(30 * DAY),
      'compression.type': 'gzip',
      'cleanup.policy': 'delete',
      'min.insync.replicas': '1',
    });
    expect(desiredConfigs(dlq, 3)['min.insync.replicas']).toBe('2');
  });
});

const ok = `topics:
  - name: a.b
    partitions: 3
    retention: 7d
    compression: snappy
    cleanupPolicy: delete
`;

function problem(text: string): string {
  try {
    parseCatalogue(text, 'cat.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    return (err as Error).message;
  }
  throw new Error('expected the catalogue to be refused');
}

describe('catalogue validation', () => {
  it('accepts a minimal topic, extra settings and "compact, delete" in any order', () => {
    const c = parseCatalogue(ok.replace('cleanupPolicy: delete', 'cleanupPolicy: delete, compact\n    config:\n      max.message.bytes: 10485760'), 'cat.yaml');
    expect(c.topics[0]).toEqual({
      name: 'a.b',
      partitions: 3,
      retentionMs: 7 * DAY,
      compression: 'snappy',
      cleanupPolicy: 'compact,delete',
      config: { 'max.message.bytes': '10485760' },
    });
  });

  it.each([
    ['partitions: 3', 'partitions: six', /topic 'a\.b': partitions must be a whole number.*"six"/],
    ['partitions: 3', 'partitions: 0', /topic 'a\.b': partitions/],
    ['partitions: 3', 'partitions: 2.5', /topic 'a\.b': partitions/],
    ['retention: 7d', 'retention: 7', /topic 'a\.b': retention must be a duration like 7d.*7/],
    ['retention: 7d', 'retention: a week', /topic 'a\.b': retention/],
    ['compression: snappy', 'compression: brotli', /topic 'a\.b': compression must be one of snappy, gzip.*"brotli"/],
    ['cleanupPolicy: delete', 'cleanupPolicy: archive', /topic 'a\.b': cleanupPolicy must be one of/],
    ['name: a.b', 'name: A_B', /topic 'A_B': name must be lower-case/],
    ['name: a.b', 'name: ""', /topic '': name must be/],
    ['    cleanupPolicy: delete\n', '    cleanupPolicy: delete\n    replicas: 3\n', /topic 'a\.b': unknown field 'replicas'/],
    [
      '    cleanupPolicy: delete\n',
      '    cleanupPolicy: delete\n    config:\n      min.insync.replicas: 2\n',
      /config\.min\.insync\.replicas is managed by the kit/,
    ],
    ['    cleanupPolicy: delete\n', '    cleanupPolicy: delete\n    config:\n      retention.ms: 5\n', /config\.retention\.ms is managed by the kit/],
    ['    cleanupPolicy: delete\n', '    cleanupPolicy: delete\n    config: [1]\n', /config must be a mapping/],
  ])('refuses %s -> %s naming the topic and the field', (from, to, message) => {
    expect(problem(ok.replace(from, to))).toMatch(message);
  });

  it('refuses a topic missing its fields, naming each', () => {
    const msg = problem('topics:\n  - name: x.y\n');
    expect(msg).toMatch(/cat\.yaml: 4 problems/);
    for (const f of ['partitions', 'retention', 'compression', 'cleanupPolicy']) expect(msg).toContain(`topic 'x.y': ${f}`);
  });

  it('refuses duplicates, including names Kafka would confuse (dots vs underscores)', () => {
    expect(problem(ok + ok.replace('topics:\n', ''))).toMatch(/topic 'a\.b': name is a duplicate of 'a\.b'/);
  });

  it('refuses an empty file, no topics list, bad YAML; names the file', () => {
    expect(problem('')).toMatch(/^cat\.yaml: expected a non-empty list under "topics:"/);
    expect(problem('topics: {}')).toMatch(/non-empty list/);
    expect(problem('topics: [')).toMatch(/^cat\.yaml: not valid YAML/);
    expect(problem('topics:\n  - just-a-string\n')).toMatch(/topic #1: expected a mapping/);
  });

  describe('files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lf-cat-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('loads --topics relative to the repo or absolute; a missing file is a usage error', () => {
      const file = path.join(dir, 'topics.yaml');
      writeFileSync(file, ok);
      expect(loadCatalogue(REPO_ROOT, file).topics).toHaveLength(1);
      expect(() => loadCatalogue(REPO_ROOT, path.join(dir, 'nope.yaml'))).toThrow(/--topics: .*nope\.yaml does not exist/);
      writeFileSync(file, ok.replace('7d', '7 days'));
      expect(() => loadCatalogue(REPO_ROOT, file)).toThrow(/topics\.yaml: topic 'a\.b': retention/);
    });
  });
});

describe('retention durations', () => {
  it('parses one number with a unit and formats back with the largest unit', () => {
    expect(parseRetention('7d')).toBe(7 * DAY);
    expect(parseRetention('12h')).toBe(12 * 3_600_000);
    expect(parseRetention('90m')).toBe(5_400_000);
    expect(parseRetention('500ms')).toBe(500);
    for (const bad of ['7', '', '0d', '-1d', '1.5d', '7 d', 'forever']) expect(parseRetention(bad), bad).toBeUndefined();
    expect(formatRetention(7 * DAY)).toBe('7d');
    expect(formatRetention(5_400_000)).toBe('90m');
    expect(formatRetention(1500)).toBe('1500ms');
  });
});
