// Commands the docs tell users to paste, checked for what would hurt them when pasted.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';

const docs = ['README.md', ...readdirSync(path.join(REPO, 'docs')).map((f) => `docs/${f}`)].filter((f) => f.endsWith('.md'));

describe('Kafka tools run inside the broker pod', () => {
  // kubectl exec starts them in the broker's container, where KAFKA_HEAP_OPTS is the broker's own heap: a second
  // JVM of that size can push the pod over its memory limit. Every documented command sets a small heap.
  const lines = docs.flatMap((f) =>
    readFileSync(path.join(REPO, f), 'utf8')
      .split('\n')
      .map((line, i) => ({ where: `${f}:${i + 1}`, line }))
      .filter(({ line }) => /kubectl exec\b.*\/opt\/kafka\/bin\/kafka-[\w-]+\.sh/.test(line)),
  );

  it('are documented (the check below has something to check)', () => {
    expect(lines.length).toBeGreaterThan(5);
  });

  it('each set a small heap before the tool', () => {
    const bad = lines.filter(({ line }) => !/-- env KAFKA_HEAP_OPTS=-Xmx\d+m \/opt\/kafka\/bin\//.test(line));
    expect(bad.map((b) => b.where)).toEqual([]);
  });
});

describe('user-visible text', () => {
  // Help, messages, manifests' comments and docs speak to users, who have no access to the internal specification.
  const walk = (dir: string, keep: RegExp): string[] =>
    readdirSync(path.join(REPO, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(path.join(dir, e.name), keep) : keep.test(e.name) ? [path.join(dir, e.name)] : [],
    );
  const files = [
    ...walk('scripts', /\.m?ts$/),
    ...walk('k8s', /\.(ya?ml|json)$/),
    ...walk('docs', /\.md$/),
    ...walk('sql', /\.sql$/),
    'README.md',
    'deploy-all.mts',
    'verify-all.mts',
    'destroy-all.mts',
  ];

  it('names no internal specification id (seed 000, FR-002, SC-001)', () => {
    const hits = files.flatMap((f) =>
      readFileSync(path.join(REPO, f), 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `${f}:${i + 1}`, line }))
        .filter(({ line }) => /\b(seed[ -]?0\d\d|FR-\d{3}|SC-\d{3})\b/i.test(line)),
    );
    expect(files.length).toBeGreaterThan(50);
    expect(hits.map((h) => `${h.where}: ${h.line.trim()}`)).toEqual([]);
  });
});
