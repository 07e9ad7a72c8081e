// Contract tests of the stand-ins for the kit's images (postgres, apache/kafka, redis under the references of
// k8s/versions.json), run as containers on the real node: each checks the part of the official image's
// documented interface the kit relies on. Needs `bash test/substrate/provision.sh` (fails loudly, never skips).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../support/cli.js';
import { waitFor, type KubeCluster } from '../support/kube-cluster.js';
import { sharedCluster } from '../support/shared-cluster.js';
import type { RealNode } from '../support/real-node.js';

const T = { timeout: 150_000 };
const NS = 'images';
const PG_PASSWORD = 'pw-not-trusted-4711';
const REDIS_PASSWORD = 'redis-pw-0815';
const CLUSTER_ID = 'Mk3OEYBSD34fcwNTJENDM2';

const pinned = JSON.parse(readFileSync(join(REPO, 'k8s', 'versions.json'), 'utf8')) as Record<string, { image?: string; version: string }>;
const ref = (k: string) => `${pinned[k]!.image}:${pinned[k]!.version}`;

describe('stand-in images on the real node', () => {
  let cluster: KubeCluster & { realNode: RealNode };
  let node: RealNode;

  const restricted = (uid: number) => ({
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  const dropAll = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  const pod = (name: string, spec: object) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: { app: name } },
    spec: { ...node.placement, enableServiceLinks: false, automountServiceAccountToken: false, terminationGracePeriodSeconds: 0, ...spec },
  });
  const claim = (name: string) => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: NS },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  });
  const postgres = (name: string, env: Record<string, string>, volume: object) =>
    pod(name, {
      securityContext: restricted(999),
      containers: [
        {
          name: 'postgresql',
          image: ref('postgres'),
          imagePullPolicy: 'IfNotPresent',
          args: ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'pg_stat_statements.track=all'],
          env: Object.entries({
            POSTGRES_USER: 'learnflow',
            POSTGRES_DB: 'learnflow',
            POSTGRES_PASSWORD: PG_PASSWORD,
            PGDATA: '/var/lib/postgresql/data/pgdata',
            ...env,
          }).map(([n, value]) => ({ name: n, value })),
          readinessProbe: {
            exec: { command: ['pg_isready', '-h', '127.0.0.1', '-p', '5432', '-U', 'learnflow', '-d', 'learnflow'] },
            periodSeconds: 1,
            timeoutSeconds: 3,
          },
          securityContext: dropAll,
          volumeMounts: [
            { name: 'data', mountPath: '/var/lib/postgresql/data' },
            { name: 'run', mountPath: '/var/run/postgresql' },
            { name: 'init', mountPath: '/docker-entrypoint-initdb.d' },
          ],
        },
      ],
      volumes: [
        { name: 'data', ...volume },
        { name: 'run', emptyDir: {} },
        { name: 'init', configMap: { name: 'pg-init' } },
      ],
    });

  const getCluster = sharedCluster({ name: 'images', realNode: true });
  beforeAll(async () => {
    cluster = getCluster();
    node = cluster.realNode;
    await cluster.kubectl(['create', 'namespace', NS]);
    await waitFor(
      'the default ServiceAccount in ' + NS,
      async () => (await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', NS]).catch(() => '')) || undefined,
    );
    // Everything starts at once; each test waits for its own pod.
    await cluster.apply(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'pg-init', namespace: NS },
            data: { '01-seed.sql': 'CREATE TABLE seeded (answer int); INSERT INTO seeded VALUES (42);\n' },
          },
          claim('pg-data'),
          postgres('pg', {}, { persistentVolumeClaim: { claimName: 'pg-data' } }),
          postgres('pg-scram', { POSTGRES_INITDB_ARGS: '--auth-host=scram-sha-256' }, { emptyDir: {} }),
          claim('kafka-data'),
          pod('kafka', {
            securityContext: restricted(1000),
            containers: [
              {
                name: 'kafka',
                image: ref('kafka'),
                imagePullPolicy: 'IfNotPresent',
                // As k8s/kafka/statefulset.yaml starts it.
                command: ['/bin/sh', '-c'],
                args: ['exec /etc/kafka/docker/run'],
                env: Object.entries({
                  CLUSTER_ID,
                  KAFKA_NODE_ID: '1',
                  KAFKA_PROCESS_ROLES: 'broker,controller',
                  KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
                  KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://localhost:9092',
                  KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
                  KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
                  KAFKA_INTER_BROKER_LISTENER_NAME: 'PLAINTEXT',
                  KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
                  KAFKA_LOG_DIRS: '/var/lib/kafka/data/kraft-logs',
                  KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
                  KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
                  KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
                  KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR: '1',
                  KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR: '1',
                  KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'false',
                  KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
                  KAFKA_HEAP_OPTS: '-Xms256m -Xmx256m',
                  // No KAFKA_JVM_PERFORMANCE_OPTS and no EXTRA_ARGS: the image's launch semantics decide (below).
                }).map(([n, value]) => ({ name: n, value })),
                // The kit's CPU limit: under it the JVM's own choice of collector is SerialGC.
                resources: { limits: { cpu: '1', memory: '768Mi' } },
                readinessProbe: { tcpSocket: { port: 9092 }, periodSeconds: 1 },
                securityContext: dropAll,
                volumeMounts: [{ name: 'data', mountPath: '/var/lib/kafka/data' }],
              },
            ],
            volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'kafka-data' } }],
          }),
          {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: { name: 'redis-conf', namespace: NS },
            stringData: { 'redis.conf': `requirepass ${REDIS_PASSWORD}\nappendonly yes\ndir /data\nmaxmemory 64mb\nmaxmemory-policy noeviction\n` },
          },
          pod('redis', {
            securityContext: restricted(999),
            containers: [
              {
                name: 'redis',
                image: ref('redis'),
                imagePullPolicy: 'IfNotPresent',
                args: ['redis-server', '/etc/redis/redis.conf'],
                readinessProbe: { tcpSocket: { port: 6379 }, periodSeconds: 1 },
                securityContext: { ...dropAll, readOnlyRootFilesystem: true },
                volumeMounts: [
                  { name: 'data', mountPath: '/data' },
                  { name: 'config', mountPath: '/etc/redis', readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: 'data', emptyDir: {} },
              { name: 'config', secret: { secretName: 'redis-conf', items: [{ key: 'redis.conf', path: 'redis.conf' }] } },
            ],
          }),
        ],
      }),
    );
  }, 60_000);

  const ready = async (name: string, timeoutS = 120) => {
    try {
      await cluster.kubectl(['wait', '--for=condition=Ready', `pod/${name}`, '-n', NS, `--timeout=${timeoutS}s`], { timeoutMs: timeoutS * 1000 + 5_000 });
    } catch (err) {
      const logs = await cluster.kubectl(['logs', '-n', NS, name, '--tail=40']).catch((e: Error) => e.message);
      const describe = await cluster.kubectl(['describe', 'pod', '-n', NS, name]).catch((e: Error) => e.message);
      throw new Error(`${String(err)}\n--- logs ---\n${logs}\n--- describe ---\n${describe.slice(-2500)}`, { cause: err });
    }
  };
  const sh = (podName: string, script: string, timeoutMs = 60_000) => cluster.kubectl(['exec', '-n', NS, podName, '--', 'sh', '-c', script], { timeoutMs });
  const podIP = async (name: string) => (await cluster.kubectl(['get', 'pod', name, '-n', NS, '-o', 'jsonpath={.status.podIP}'])).trim();

  it(
    'postgres: runs as uid 999, creates the user and database from the env, seeds from initdb.d, trusts 127.0.0.1 and wants the password over the pod IP',
    T,
    async () => {
      await ready('pg');
      expect((await sh('pg', 'id -u')).trim()).toBe('999');
      const psql = (args: string) => `psql -X -v ON_ERROR_STOP=1 -tA ${args}`;
      // initdb's default local authentication: trust on the socket and 127.0.0.1, no password needed.
      expect((await sh('pg', psql(`-h 127.0.0.1 -U learnflow -d learnflow -c 'SELECT current_user, current_database()'`))).trim()).toBe('learnflow|learnflow');
      expect((await sh('pg', psql(`-U learnflow -d learnflow -c 'SELECT answer FROM seeded'`))).trim()).toBe('42');
      expect((await sh('pg', psql(`-h 127.0.0.1 -U learnflow -d learnflow -c 'SHOW shared_preload_libraries'`))).trim()).toBe('pg_stat_statements');
      // Every other address: scram-sha-256 (the appended `host all all all` line).
      const ip = await podIP('pg');
      await expect(sh('pg', `PGCONNECT_TIMEOUT=5 ${psql(`-h ${ip} -U learnflow -d learnflow -w -c 'SELECT 1'`)}`)).rejects.toThrow(/password/i);
      expect((await sh('pg', `PGPASSWORD="$POSTGRES_PASSWORD" ${psql(`-h ${ip} -U learnflow -d learnflow -c 'SELECT 1'`)}`)).trim()).toBe('1');
      expect(await sh('pg', 'tail -n 1 "$PGDATA/pg_hba.conf"')).toContain('host all all all scram-sha-256');
      // What the kit's backup runs inside the pod.
      expect(
        await sh('pg', 'export PGPASSWORD="$POSTGRES_PASSWORD"; pg_dump --clean --if-exists --no-password -U "$POSTGRES_USER" -d "$POSTGRES_DB" | head -n 3'),
      ).toContain('PostgreSQL database dump');
      // The initialisation server listened on the socket only: one TCP listen in the log, the final server's.
      const log = await cluster.kubectl(['logs', '-n', NS, 'pg']);
      expect(log).toContain('PostgreSQL init process complete');
      expect(log.match(/listening on IPv4 address/g)).toHaveLength(1);
    },
  );

  it('postgres: POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256 makes 127.0.0.1 require the password too', T, async () => {
    await ready('pg-scram');
    await expect(sh('pg-scram', `psql -X -w -h 127.0.0.1 -U learnflow -d learnflow -c 'SELECT 1'`)).rejects.toThrow(/password/i);
    expect((await sh('pg-scram', `PGPASSWORD="$POSTGRES_PASSWORD" psql -X -tA -h 127.0.0.1 -U learnflow -d learnflow -c 'SELECT 1'`)).trim()).toBe('1');
    // The socket keeps initdb's default (trust): the readiness probe and the kit's exec steps use TCP or the password.
    expect((await sh('pg-scram', `psql -X -tA -U learnflow -d learnflow -c 'SELECT 1'`)).trim()).toBe('1');
  });

  it(
    'kafka: a broker configured by KAFKA_* variables runs as uid 1000, formats with CLUSTER_ID, follows the launch semantics (GC, EXTRA_ARGS) and serves a topic create',
    T,
    async () => {
      await ready('kafka');
      expect((await sh('kafka', 'id -u')).trim()).toBe('1000');
      const props = await sh('kafka', 'cat /opt/kafka/config/server.properties');
      expect(props).toContain('listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT');
      expect(props).toContain('auto.create.topics.enable=false');
      expect(props).toContain('log.dirs=/var/lib/kafka/data/kraft-logs');
      expect(props).not.toContain('heap');
      expect(await sh('kafka', 'cat /var/lib/kafka/data/kraft-logs/meta.properties')).toContain(`cluster.id=${CLUSTER_ID}`);
      // The image's launch semantics: KAFKA_JVM_PERFORMANCE_OPTS is always set (the broker's class-data sharing
      // archive), so kafka-run-class.sh's G1 defaults never apply and the JVM picks the collector: SerialGC under a
      // 1-CPU limit. The archive is mapped, not refused. kafka-server-start.sh's default EXTRA_ARGS add -loggc.
      const cmdline = await sh('kafka', "tr '\\0' ' ' </proc/1/cmdline");
      expect(cmdline).toMatch(/-Xmx256m .*-XX:SharedArchiveFile=\/opt\/kafka\/kafka\.jsa .*-Xlog:gc\*:file=\/opt\/kafka\/logs\/kafkaServer-gc\.log:/);
      expect(await sh('kafka', 'grep -c /opt/kafka/kafka.jsa /proc/1/maps')).not.toMatch(/^0/);
      expect(cmdline).not.toMatch(/-XX:\+Use\w+GC/);
      expect(await sh('kafka', 'java -XX:+PrintFlagsFinal -version 2>/dev/null | grep -E " Use(Serial|G1)GC "')).toMatch(
        /UseSerialGC\s+= true\s+\{product\} \{ergonomic\}/,
      );
      expect(await sh('kafka', 'ls /opt/kafka/logs')).toContain('kafkaServer-gc.log');
      // One tool JVM (seconds of CPU each): the create, answered by the broker's controller.
      const created = await sh(
        'kafka',
        '/opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092 --create --topic learnflow.contract --partitions 2 --replication-factor 1',
        90_000,
      );
      expect(created).toContain('Created topic learnflow.contract');
      expect(await sh('kafka', 'ls /var/lib/kafka/data/kraft-logs')).toMatch(/learnflow\.contract-0[\s\S]*learnflow\.contract-1/);
      expect(await sh('kafka', 'ls /opt/kafka/bin')).toMatch(/kafka-console-producer\.sh[\s\S]*kafka-storage\.sh/);
    },
  );

  it('redis: runs as uid 999 with a read-only root filesystem, takes requirepass from the mounted config', T, async () => {
    await ready('redis');
    expect((await sh('redis', 'id -u')).trim()).toBe('999');
    const ip = await podIP('redis');
    expect(await sh('redis', `redis-cli -h ${ip} ping 2>&1 || true`)).toMatch(/NOAUTH/);
    expect((await sh('redis', `redis-cli -h ${ip} -a '${REDIS_PASSWORD}' --no-auth-warning set contract ok`)).trim()).toBe('OK');
    expect((await sh('redis', `redis-cli -a '${REDIS_PASSWORD}' --no-auth-warning get contract`)).trim()).toBe('ok');
    expect((await sh('redis', `redis-cli -a '${REDIS_PASSWORD}' --no-auth-warning config get appendonly`)).split('\n')[1]).toBe('yes');
    expect(await sh('redis', 'ls /data')).toContain('appendonlydir');
  });
});
