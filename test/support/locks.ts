// A lock across test files (vitest runs files in parallel workers) for what cannot be shared: the fixed local port
// 127.0.0.1:29092 that the kit's Kafka port-forward uses. mkdir is atomic; a lock whose holder died is taken over.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const ROOT = path.join(tmpdir(), 'learnflow-test-locks');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for the named lock (up to `timeoutMs`) and returns its release. */
export async function holdLock(name: string, timeoutMs = 600_000): Promise<() => void> {
  const dir = path.join(ROOT, name);
  mkdirSync(ROOT, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'pid'), String(process.pid));
      return () => rmSync(dir, { recursive: true, force: true });
    } catch {
      const holder = Number(readFileSync(path.join(dir, 'pid'), 'utf8').trim() || 0) || 0;
      if (holder && holder !== process.pid && !alive(holder)) rmSync(dir, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`test lock ${name} is still held by pid ${holder} after ${timeoutMs / 1000}s`);
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** The kit's Kafka port-forward listens on this fixed port: one test file at a time. */
export const KAFKA_LOCAL_PORT_LOCK = 'port-29092';
