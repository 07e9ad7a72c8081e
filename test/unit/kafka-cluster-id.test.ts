// The KRaft cluster id a deploy uses: kept from what runs or what the volumes were formatted with, random for a
// new stack (so another cluster's Kafka in a namespace of the same name is told apart), recorded on the claims.
import { describe, expect, it } from 'vitest';
import { chooseClusterId } from '../../scripts/lib/components/kafka/cluster-id.js';
import { CLUSTER_ID_PLACEHOLDER, renderKafka } from '../../scripts/lib/components/kafka/manifests.js';
import { CLUSTER_ID_ANNOTATION, clusterIdFor, deployedClusterId, newClusterId } from '../../scripts/lib/components/shared/kafka-topology.js';
import { labelClaims } from '../../scripts/lib/kube/kubectl.js';
import { Kube } from '../../scripts/lib/kube/kubectl.js';
import { fakeExec, on } from '../support/fakes.js';

const claim = (name: string, annotations?: Record<string, string>) => ({ metadata: { name, annotations } });

describe('the KRaft cluster id', () => {
  it('a new stack gets a random id in the format kafka-storage.sh takes; two stacks never share one', () => {
    const ids = new Set(Array.from({ length: 50 }, () => newClusterId()));
    expect(ids.size).toBe(50);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
    const chosen = chooseClusterId({ namespace: 'learnflow', claims: [] });
    expect(chosen.id).not.toBe(clusterIdFor('learnflow'));
    expect(chosen.why).toMatch(/\(new, random\)$/);
  });

  it('keeps what the StatefulSet runs, over anything recorded elsewhere', () => {
    const sts = { spec: { template: { spec: { containers: [{ name: 'kafka', env: [{ name: 'CLUSTER_ID', value: 'RunningIdAAAAAAAAAAAAA' }] }] } } } };
    expect(deployedClusterId(sts)).toBe('RunningIdAAAAAAAAAAAAA');
    expect(
      chooseClusterId({ namespace: 'learnflow', deployed: deployedClusterId(sts), claims: [claim('data-kafka-0', { [CLUSTER_ID_ANNOTATION]: 'other' })] }).id,
    ).toBe('RunningIdAAAAAAAAAAAAA');
  });

  it('no StatefulSet but the volumes kept: the id recorded on the first claim; a claim without a record: the id earlier versions derived', () => {
    expect(chooseClusterId({ namespace: 'learnflow', claims: [claim('data-kafka-0', { [CLUSTER_ID_ANNOTATION]: 'RecordedIdAAAAAAAAAAAA' })] })).toEqual({
      id: 'RecordedIdAAAAAAAAAAAA',
      why: 'KRaft cluster id RecordedIdAAAAAAAAAAAA, as recorded on pvc/data-kafka-0 (its volume was formatted with it)',
    });
    expect(chooseClusterId({ namespace: 'team-a', claims: [claim('data-kafka-0')] }).id).toBe(clusterIdFor('team-a'));
  });

  it('a plan renders a placeholder, not an id a deploy might not use', () => {
    const sts = renderKafka('learnflow', 1).find((m) => m.kind === 'StatefulSet');
    expect(deployedClusterId(sts as never)).toBe(CLUSTER_ID_PLACEHOLDER);
  });

  it('records the id on the claims that lack it, in one kubectl call each for labels and annotations; none when all carry them', async () => {
    const exec = fakeExec(on(['label'], {}), on(['annotate'], {}));
    const kube = new Kube(exec, 'learnflow');
    const labelled = { 'app.kubernetes.io/managed-by': 'learnflow-kit', 'learnflow.dev/stack': 'learnflow' };
    await labelClaims(kube, ['data-kafka-0', 'data-kafka-1'], {
      annotations: { [CLUSTER_ID_ANNOTATION]: 'X1' },
      known: [{ metadata: { name: 'data-kafka-0', labels: labelled, annotations: { [CLUSTER_ID_ANNOTATION]: 'X1' } } }],
    });
    expect(exec.calls.map((c) => c.line)).toEqual([
      'kubectl label pvc data-kafka-1 -n learnflow app.kubernetes.io/managed-by=learnflow-kit learnflow.dev/stack=learnflow --overwrite',
      `kubectl annotate pvc data-kafka-1 -n learnflow ${CLUSTER_ID_ANNOTATION}=X1 --overwrite`,
    ]);
    exec.calls.length = 0;
    await labelClaims(kube, ['data-kafka-0'], {
      annotations: { [CLUSTER_ID_ANNOTATION]: 'X1' },
      known: [{ metadata: { name: 'data-kafka-0', labels: labelled, annotations: { [CLUSTER_ID_ANNOTATION]: 'X1' } } }],
    });
    expect(exec.calls).toEqual([]);
  });
});

describe('reading Secrets', () => {
  it('reads several by name in one kubectl call, registering only the values read', async () => {
    const { readSecrets } = await import('../../scripts/lib/kube/secrets.js');
    const { SecretRegistry } = await import('../../scripts/lib/core/log.js');
    const b64 = (t: string) => Buffer.from(t).toString('base64');
    const list = {
      kind: 'List',
      items: [
        { metadata: { name: 'a-db' }, data: { password: b64('pw-of-a-1234'), username: b64('a_user') } },
        { metadata: { name: 'b-db' }, data: { password: b64('pw-of-b-5678') } },
      ],
    };
    const exec = fakeExec(on(['get', 'secret', 'a-db', 'b-db', 'c-db'], { stdout: JSON.stringify(list) }));
    const secrets = new SecretRegistry();
    const got = await readSecrets({ kube: new Kube(exec, 'learnflow'), secrets }, ['a-db', 'b-db', 'c-db']);
    expect(exec.calls).toHaveLength(1);
    expect(got.get('a-db')?.get('password')).toBe('pw-of-a-1234');
    expect(got.has('c-db')).toBe(false);
    expect(secrets.scrub('pw-of-a-1234 a_user pw-of-b-5678')).not.toContain('pw-of-a-1234');
    expect(secrets.scrub('a_user')).toBe('a_user');
    const one = fakeExec(on(['get', 'secret', 'a-db'], { stdout: JSON.stringify(list.items[0]) }));
    expect((await readSecrets({ kube: new Kube(one, 'learnflow'), secrets }, ['a-db'])).get('a-db')?.get('username')).toBe('a_user');
  });
});
