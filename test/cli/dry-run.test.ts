// The component scripts' --dry-run as a user runs it: a real process, no cluster, nothing provisioned.
import { describe, expect, it } from 'vitest';
import { SECRET_PLACEHOLDER } from '../../scripts/lib/kube/manifests.js';
import { runKit } from '../support/cli.js';

describe('deploy-kafka --dry-run', () => {
  it('prints the plan and the manifests for 3 brokers with no cluster', async () => {
    const r = await runKit('scripts/deploy-kafka.mts', ['--dry-run', '--replicas', '3', '--context', 'no-such-context']);
    expect(r.code, r.stderr).toBe(0);
    // The plan on stderr, the manifests alone on stdout.
    expect(r.stderr).toContain('127.0.0.1:29094 -> pod/kafka-2:29094');
    expect(r.stderr).toContain('new topics get replication factor 3, min ISR 2');
    expect(r.stderr).toContain('reconcile 10 topics from k8s/kafka/topics.yaml');
    expect(r.stdout).toContain('kind: StatefulSet');
    expect(r.stdout).toContain('kafka-2.env');
    expect(r.stdout).not.toContain('reconcile 10 topics');
  });

  it('refuses a broker count outside 1..9 with exit 2', async () => {
    for (const n of ['0', '10', 'three']) {
      const r = await runKit('scripts/deploy-kafka.mts', ['--dry-run', '--replicas', n]);
      expect(r.code, `${n}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('--replicas');
    }
  });
});

describe('deploy-postgres --dry-run', () => {
  it('--dry-run needs no cluster, prints the plan and manifests, and redacts the Secret', async () => {
    const r = await runKit('scripts/deploy-postgres.mts', ['--dry-run', '--namespace', 'lf-dry'], {
      env: { PATH: '/nonexistent', KUBECONFIG: '/nonexistent' },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('kind: StatefulSet');
    expect(r.stdout).toContain('namespace: lf-dry');
    expect(r.stdout).toContain(`password: ${SECRET_PLACEHOLDER}`);
    expect(r.stderr).toMatch(/postgres\s+-\s+10m00s\s+planned/);
    expect(r.stdout).not.toMatch(/planned/);
  });
});
