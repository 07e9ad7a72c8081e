// The Kafka upgrade planner and roll (scripts/lib/components/kafka/upgrade.ts) over the fake exec. The tools' outputs
// are recorded from a Kafka 4.3.1 broker (test/fixtures/kafka-upgrade/*.txt, kafka-tools run against it); the
// 3-voter quorum table keeps the recorded one's columns and tabs with two more rows.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compareVersions } from '../../scripts/lib/core/repo.js';
import { describe, expect, it } from 'vitest';
import { StepError, UsageError } from '../../scripts/lib/core/errors.js';
import { readVersions, VERSIONS_FILE_ENV } from '../../scripts/lib/core/repo.js';
import {
  describeUpgrade,
  finalizeRelease,
  parseFeatures,
  parseQuorumReplication,
  planUpgrade,
  quorumBehind,
  rollBrokers,
  underReplicated,
  versionOfImage,
  type KafkaUpgrade,
  type LiveKafka,
} from '../../scripts/lib/components/kafka/upgrade.js';
import { fakeClock, fakeExec, fakeStep, on } from '../support/fakes.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/kafka-upgrade/${name}`, import.meta.url), 'utf8');
const PIN = 'apache/kafka:4.4.0';
const OLD = 'apache/kafka:4.3.1';
const live = (template: string, pods: string[], pendingRelease?: string): LiveKafka => ({
  replicas: pods.length,
  templateImage: template,
  pendingRelease,
  pods: pods.map((image, i) => ({ name: `kafka-${i}`, image })),
});

// The recorded table (one voter) with the two followers of a 3-broker quorum.
const [HEAD, LEADER] = fixture('quorum-replication-1-voter.txt').split('\n');
const row = (id: number, leo: number, lag: number, fetch: number, caught: number, status: string) =>
  [id, 'AAAAAAAAAAAAAAAAAAAAAA', leo, lag, fetch, caught, status, ''].join('\t');
const QUORUM_3 = [
  HEAD,
  LEADER!.replace(/^1 /, '0 '),
  row(1, 58, 0, 1796602571250, 1796602571250, 'Follower'),
  row(2, 58, 0, 1796602571251, 1796602571251, 'Follower'),
].join('\n');
const QUORUM_2_BEHIND = [
  HEAD,
  LEADER!.replace(/^1 /, '0 '),
  row(1, 58, 0, 1796602571250, 1796602571250, 'Follower'),
  row(2, 12, 46, 1796602571251, -1, 'Follower'),
].join('\n');
// A partition line as recorded, with broker 2 out of the ISR.
const UNDER = fixture('topics-describe-4.3.1.txt')
  .split('\n')
  .filter((l) => l.includes('Partition: 0'))
  .map((l) => l.replace('Replicas: 1\tIsr: 1', 'Replicas: 0,1,2\tIsr: 0,1'))
  .join('\n');

describe('planUpgrade: what runs against the pin', () => {
  it('a new stack and a stack at the pin need no upgrade', () => {
    expect(planUpgrade(undefined, PIN, 'learnflow')).toBeUndefined();
    expect(planUpgrade(live(PIN, [PIN, PIN, PIN]), PIN, 'learnflow')).toBeUndefined();
  });

  it('brokers on the previous version roll to the pin, then the metadata version is finalized', () => {
    const u = planUpgrade(live(OLD, [OLD, OLD, OLD]), PIN, 'learnflow')!;
    expect(u).toEqual({ from: ['4.3.1'], to: '4.4.0', release: '4.4', roll: true, replicas: 3 });
    expect(describeUpgrade(u)).toBe(
      'kafka 4.3.1 -> 4.4.0: roll one broker at a time (kafka-2, kafka-1, kafka-0), each gated on every partition back in its ISR and the controller quorum caught up; then finalize the metadata version (kafka-features.sh upgrade --release-version 4.4)',
    );
  });

  it('a roll that stopped half way (template at the pin, one pod still old) rolls on', () => {
    expect(planUpgrade(live(PIN, [OLD, PIN, PIN]), PIN, 'learnflow')).toMatchObject({ from: ['4.3.1', '4.4.0'], roll: true });
  });

  it('every broker at the pin with the finalization still pending: only the finalization', () => {
    const u = planUpgrade(live(PIN, [PIN, PIN, PIN], '4.4'), PIN, 'learnflow')!;
    expect(u.roll).toBe(false);
    expect(describeUpgrade(u)).toBe(
      'kafka 4.4.0 -> 4.4.0: every broker runs it already: finalize the metadata version (kafka-features.sh upgrade --release-version 4.4)',
    );
  });

  it('a downgrade and another major version are refused before anything is applied, with the way back', () => {
    const down = () => planUpgrade(live('apache/kafka:4.5.0', ['apache/kafka:4.5.0']), PIN, 'learnflow');
    expect(down).toThrow(StepError);
    expect(down).toThrow(/runs Kafka 4\.5\.0, newer than the kit's pin 4\.4\.0: the kit does not downgrade/);
    try {
      down();
    } catch (e) {
      expect((e as StepError).fix).toBe('pin Kafka back to 4.5.0 in k8s/versions.json (or deploy with the kit version that deployed it)');
    }
    expect(() => planUpgrade(live('apache/kafka:3.9.1', ['apache/kafka:3.9.1']), PIN, 'learnflow')).toThrow(/another major version/);
  });

  it('versions compare as numbers and come from the image tag', () => {
    expect(compareVersions('4.10.0', '4.9.1')).toBe(1);
    expect(compareVersions('4.4.0', '4.4.0')).toBe(0);
    expect(versionOfImage('docker.io/apache/kafka:4.3.1@sha256:abc')).toBe('4.3.1');
    expect(versionOfImage('localhost:5000/kafka')).toBeUndefined();
  });
});

describe('the gate and the features, read from the tools as recorded', () => {
  it('the quorum table: a voter that never caught up holds the roll; all following with no lag lets it go on', () => {
    expect(parseQuorumReplication(fixture('quorum-replication-1-voter.txt'))).toEqual([
      { nodeId: 1, lag: 0, lastFetch: 1796602571254, lastCaughtUp: 1796602571254, status: 'Leader' },
    ]);
    expect(quorumBehind(parseQuorumReplication(QUORUM_3), 3)).toBeUndefined();
    expect(quorumBehind(parseQuorumReplication(QUORUM_2_BEHIND), 3)).toBe('voter 2 lags 46 record(s)');
    expect(quorumBehind(parseQuorumReplication(fixture('quorum-replication-1-voter.txt')), 3)).toBe('voter 0 not listed, voter 2 not listed');
    expect(() => parseQuorumReplication('Error: timed out')).toThrow(/printed no table/);
    expect(() => parseQuorumReplication(fixture('quorum-replication-1-voter.txt').replace('Lag', 'Behind'))).toThrow(/no Lag column/);
  });

  it('under-replicated partitions are named; none prints nothing', () => {
    expect(underReplicated('')).toEqual([]);
    expect(underReplicated(UNDER)).toEqual(['learning.queries-0 (replicas 0,1,2, ISR 0,1)']);
    // An empty ISR is told as such, not as the next field's name.
    expect(underReplicated(UNDER.replace('Isr: 0,1', 'Isr: '))).toEqual(['learning.queries-0 (replicas 0,1,2, ISR none)']);
  });

  it('the finalized levels of kafka-features.sh describe', () => {
    expect(parseFeatures(fixture('features-describe-4.3.1.txt'))).toMatchObject({ 'metadata.version': '4.3-IV0', 'kraft.version': '0' });
  });
});

/**
 * A StatefulSet controller in miniature: lowering the partition replaces that pod at the update revision. With
 * `lagLooks`, the controller takes each patch only after that many looks; until then the StatefulSet shows the
 * generation it has not observed and the old update revision (the new template not seen yet either).
 */
function fakeBrokers(opts: { crash?: string; underReplicatedPolls?: number; finalized?: string; lagLooks?: number } = {}) {
  const pods = [0, 1, 2].map((i) => ({ name: `kafka-${i}`, rev: 'old', ready: true }));
  let under = opts.underReplicatedPolls ?? 0;
  let mv = '4.3-IV0';
  let [generation, observed, lag] = [1, 1, 0];
  let partition: number | undefined;
  /** The pods already at the new revision each time the gate looked at the quorum. */
  const gated: string[] = [];
  const take = () => {
    for (const p of pods.slice(partition)) p.rev = 'new';
    [observed, partition] = [generation, undefined];
  };
  const items = () => ({
    items: [
      {
        kind: 'StatefulSet',
        metadata: { name: 'kafka', generation },
        spec: { replicas: 3 },
        status: { observedGeneration: observed, updateRevision: observed === generation ? 'new' : 'old', currentRevision: 'old' },
      },
      ...pods.map((p) => ({
        kind: 'Pod',
        metadata: { name: p.name, labels: { 'app.kubernetes.io/name': 'kafka', 'controller-revision-hash': p.rev } },
        status:
          p.name === opts.crash && p.rev === 'new'
            ? JSON.parse(fixture('../pods/crashloop.json')).status
            : { phase: 'Running', conditions: [{ type: 'Ready', status: p.ready ? 'True' : 'False' }], containerStatuses: [{ name: 'kafka', ready: p.ready }] },
      })),
    ],
  });
  const exec = fakeExec(
    on(['annotate', 'statefulset', 'kafka'], {}),
    on(['patch', 'statefulset', 'kafka'], (args) => {
      partition = (JSON.parse(args[args.indexOf('-p') + 1]!) as { spec: { updateStrategy: { rollingUpdate: { partition: number } } } }).spec.updateStrategy
        .rollingUpdate.partition;
      generation++;
      lag = opts.lagLooks ?? 0;
      if (!lag) take();
      return {};
    }),
    on(['get', 'statefulset,pod'], () => {
      if (lag > 0) lag--;
      else if (partition !== undefined) take();
      return { stdout: JSON.stringify(items()) };
    }),
    on(['/opt/kafka/bin/kafka-topics.sh', '--describe', '--under-replicated-partitions'], () => ({ stdout: under-- > 0 ? UNDER : '' })),
    on(['/opt/kafka/bin/kafka-metadata-quorum.sh', 'describe', '--replication'], () => {
      gated.push(
        pods
          .filter((p) => p.rev === 'new')
          .map((p) => p.name)
          .join(','),
      );
      return { stdout: QUORUM_3 };
    }),
    on(['/opt/kafka/bin/kafka-features.sh', 'upgrade', '--release-version', '4.4'], () => {
      mv = opts.finalized ?? '4.4-IV0';
      return {};
    }),
    on(['/opt/kafka/bin/kafka-features.sh', 'describe'], () => ({
      stdout: fixture('features-describe-4.3.1.txt').replace(/FinalizedVersionLevel: 4\.3-IV0/, `FinalizedVersionLevel: ${mv}`),
    })),
    on(['logs'], { stdout: 'Exception in thread "main" java.lang.OutOfMemoryError' }),
  );
  return { exec, pods, gated };
}

const UPGRADE: KafkaUpgrade = { from: ['4.3.1'], to: '4.4.0', release: '4.4', roll: true, replicas: 3 };

describe('rollBrokers and finalizeRelease over the fake exec', () => {
  it('one broker at a time, highest ordinal first, each gated (an under-replicated partition holds it); then finalized', async () => {
    const { exec, pods } = fakeBrokers({ underReplicatedPolls: 2 });
    const step = fakeStep(exec, { budgetMs: 600_000, clock: fakeClock() });
    await rollBrokers(step, UPGRADE);
    const lines = exec.calls.map((c) => c.line);
    const patches = lines.filter((l) => l.includes('patch')).map((l) => /"partition":(\d)/.exec(l)![1]);
    expect(patches).toEqual(['2', '1', '0']);
    expect(lines[0]).toContain('annotate statefulset kafka -n learnflow --overwrite learnflow.dev/kafka-finalize-release=4.4');
    // The gate ran after each pod, in the pod just replaced, before the next patch.
    const order = lines
      .filter((l) => /patch|kafka-metadata-quorum/.test(l))
      .map((l) => (l.includes('patch') ? 'patch' : /exec -n learnflow (kafka-\d)/.exec(l)![1]));
    expect(order).toEqual(['patch', 'kafka-2', 'patch', 'kafka-1', 'patch', 'kafka-0']);
    // The first look after kafka-2 found learning.queries-0 out of its ISR: the roll waited for it.
    expect(lines.filter((l) => l.includes('kafka-topics.sh')).length).toBe(5);
    expect(step.log.lines.join('\n')).toMatch(/not back in their ISR: learning\.queries-0 \(replicas 0,1,2, ISR 0,1\)/);
    expect(pods.every((p) => p.rev === 'new')).toBe(true);
    expect(step.log.lines.join('\n')).toMatch(/kafka-2 runs Kafka 4\.4\.0: ready in .*, every partition in its ISR and the quorum caught up/);

    expect(await finalizeRelease(step, UPGRADE)).toBe('4.4-IV0');
    expect(exec.calls.at(-1)!.line).toContain('annotate statefulset kafka -n learnflow learnflow.dev/kafka-finalize-release-');
  });

  it('a controller that has not taken the patch yet: the old pod does not count as rolled, each gate follows its own broker', async () => {
    const { exec, pods, gated } = fakeBrokers({ lagLooks: 2 });
    const step = fakeStep(exec, { budgetMs: 600_000, clock: fakeClock() });
    await rollBrokers(step, UPGRADE);
    expect(gated).toEqual(['kafka-2', 'kafka-1,kafka-2', 'kafka-0,kafka-1,kafka-2']);
    expect(pods.every((p) => p.rev === 'new')).toBe(true);
    expect(step.log.lines.join('\n')).toMatch(/statefulset\/kafka has not taken the change yet/);
  });

  it('a broker that cannot start on the new version stops the roll there, with its log lines and the way back', async () => {
    const { exec } = fakeBrokers({ crash: 'kafka-2' });
    const step = fakeStep(exec, { budgetMs: 600_000, clock: fakeClock() });
    const err = await rollBrokers(step, UPGRADE).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toMatch(/Kafka 4\.4\.0 cannot start on kafka-2: .*CrashLoopBackOff/);
    expect((err as StepError).message).toContain('the brokers below it still run 4.3.1');
    expect((err as StepError).message).toContain('OutOfMemoryError');
    expect(exec.calls.filter((c) => c.line.includes('patch')).length).toBe(1);
  });

  it('a finalization that did not take is an error with the command to paste', async () => {
    const { exec } = fakeBrokers({ finalized: '4.3-IV0' });
    const step = fakeStep(exec, { budgetMs: 600_000, clock: fakeClock() });
    const err = (await finalizeRelease(step, UPGRADE).catch((e: unknown) => e)) as StepError;
    expect(err.message).toMatch(/the metadata version is 4\.3-IV0 after kafka-features\.sh upgrade --release-version 4\.4/);
    expect(err.fix).toContain(
      'kubectl exec kafka-0 -n learnflow -- /opt/kafka/bin/kafka-features.sh --bootstrap-server localhost:9092 upgrade --release-version 4.4',
    );
  });
});

describe('LEARNFLOW_VERSIONS_FILE: another version than the pin, for one run', () => {
  const withFile = <T>(content: string, fn: () => T): T => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lf-versions-'));
    const file = path.join(dir, 'versions.json');
    writeFileSync(file, content);
    process.env[VERSIONS_FILE_ENV] = file;
    try {
      return fn();
    } finally {
      delete process.env[VERSIONS_FILE_ENV];
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('replaces the entries it names, key by key; the others stay pinned', () => {
    const pinned = readVersions();
    const v = withFile('{"kafka": {"version": "4.3.1"}}', readVersions);
    expect(v.kafka).toEqual({ image: pinned.kafka.image, version: '4.3.1' });
    expect(v.postgres).toEqual(pinned.postgres);
    expect(readVersions().kafka.version).toBe(pinned.kafka.version);
  });

  it('an entry k8s/versions.json does not have, or a file that is not JSON, is a usage error with the fix', () => {
    expect(() => withFile('{"kafak": {"version": "4.3.1"}}', readVersions)).toThrow(UsageError);
    expect(() => withFile('{"kafak": {"version": "4.3.1"}}', readVersions)).toThrow(/"kafak" is not an entry of k8s\/versions\.json/);
    expect(() => withFile('not json', readVersions)).toThrow(UsageError);
  });
});
