// A real single-node Apache Kafka broker (combined broker+controller, KRaft) on loopback for tests.
// Jars come from the Maven repository via test/substrate/provision.sh (provision-data.sh), at the version the
// kit deploys (k8s/versions.json .kafka.version). Recipe: /work/shared/notes/test-substrate.md section 2.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLocalPort } from '../../scripts/lib/run/port-forward.js';
import { forgetOnExit, runProcess, stopOnExit } from './process.js';
import { CACHE } from './paths.js';

export interface StartKafkaOptions {
  /** Kafka version; default k8s/versions.json .kafka.version (or $LEARNFLOW_KAFKA_VERSION). */
  version?: string;
  /** Cache root; default $LEARNFLOW_TEST_CACHE or ~/.cache/learnflow-test. Jars in <cache>/kafka-<v>/libs. */
  cacheDir?: string;
  /** Extra/overriding server.properties entries. */
  config?: Record<string, string>;
  /** JVM max heap; default "512m". */
  heap?: string;
  /** Readiness bound; default 60 000 ms. */
  startTimeoutMs?: number;
  /** Client port (default: a free one), e.g. 29092 to stand where the kit's port-forward would be. */
  port?: number;
  /** KRaft cluster id (default: random), e.g. the one the kit derives for a namespace. */
  clusterId?: string;
}

export interface KafkaInstance {
  /** ["127.0.0.1:<port>"] */
  brokers: string[];
  port: number;
  controllerPort: number;
  version: string;
  /** The temp dir (server.properties, data/, logs). Removed by stop(). */
  dir: string;
  /** log4j2 server log. JVM stdout/stderr go to <dir>/kafka.out. */
  logFile: string;
  /** SIGTERM (controlled shutdown), SIGKILL after 10 s, then removes dir. Idempotent; also fine after kill(). */
  stop(): Promise<void>;
  /** SIGKILL now, simulating a dead broker. Keeps dir (stop() removes it). */
  kill(): Promise<void>;
}

const PROVISION_HINT = 'run test/substrate/provision.sh (it resolves the Kafka jars with Maven)';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function pinnedKafkaVersion(): string {
  if (process.env.LEARNFLOW_KAFKA_VERSION) return process.env.LEARNFLOW_KAFKA_VERSION;
  const file = join(REPO_ROOT, 'k8s', 'versions.json');
  const v = (JSON.parse(readFileSync(file, 'utf8')) as { kafka?: { version?: string } }).kafka?.version;
  if (!v) throw new Error(`startKafka: no .kafka.version in ${file}`);
  return v;
}

const freePort = freeLocalPort;

async function twoFreePorts(): Promise<[number, number]> {
  for (;;) {
    const a = await freePort();
    const b = await freePort();
    if (a !== b) return [a, b];
  }
}

function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(empty)';
  }
}

function javaBin(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

// Fast JVM startup for a short-lived test broker (C1 only, serial GC, no perf data file): ~3.5 s instead of ~6.5 s.
// Must match KAFKA_JVM_FLAGS in test/substrate/provision-data.sh, which dumps the class-data sharing archive
// <cache>/kafka-<v>/kafka.jsa with them (used when present; a mismatching archive is ignored by the JVM).
const JVM_FLAGS = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData', '-Djava.awt.headless=true'];

function log4j2Config(logFile: string): string {
  return [
    'status = warn',
    'name = learnflow-test-kafka',
    'appender.file.type = File',
    'appender.file.name = FILE',
    `appender.file.fileName = ${logFile}`,
    'appender.file.layout.type = PatternLayout',
    'appender.file.layout.pattern = [%d] %p %m (%c)%n',
    'rootLogger.level = INFO',
    'rootLogger.appenderRef.file.ref = FILE',
    // Quiet the chattiest loggers.
    'logger.kafka.name = kafka',
    'logger.kafka.level = INFO',
    'logger.request.name = kafka.request.logger',
    'logger.request.level = WARN',
    'logger.state.name = state.change.logger',
    'logger.state.level = WARN',
    '',
  ].join('\n');
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts a broker. The free ports are chosen before the JVM binds them, so a test running beside may take one in
 * between ("Address already in use"): then it starts again on new ports (a port the caller fixed is not retried).
 */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaInstance> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKafkaOnce(opts);
    } catch (err) {
      if (opts.port !== undefined || attempt >= 3 || !/Address already in use/.test(String(err))) throw err;
    }
  }
}

async function startKafkaOnce(opts: StartKafkaOptions): Promise<KafkaInstance> {
  const version = opts.version ?? pinnedKafkaVersion();
  const cache = opts.cacheDir ?? CACHE;
  const libs = join(cache, `kafka-${version}`, 'libs');
  if (!existsSync(join(cache, `kafka-${version}`, '.complete')) || !existsSync(join(libs, `kafka_2.13-${version}.jar`))) {
    throw new Error(`startKafka: Kafka ${version} jars are missing from ${libs}; ${PROVISION_HINT}`);
  }
  const java = javaBin();
  const probe = spawnSync(java, ['-version'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`startKafka: cannot run '${java} -version' (Java 17+ is required): ${probe.error?.message ?? probe.status}`);
  }

  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const dir = await mkdtemp(join(tmpdir(), 'learnflow-kafka-'));
  const logFile = join(dir, 'server.log');
  const outFile = join(dir, 'kafka.out');
  const propsFile = join(dir, 'server.properties');
  const log4jFile = join(dir, 'log4j2.properties');
  const [freeA, controllerPort] = await twoFreePorts();
  const port = opts.port ?? freeA;
  // Kafka's 16-byte id as base64url; its first character kept alphanumeric (one starting with '-' reads as a flag
  // to StorageTool, which then fails: "argument --cluster-id/-t: expected one argument", 1 run in 32).
  const clusterId =
    opts.clusterId ??
    (() => {
      const bytes = randomBytes(16);
      bytes[0] = bytes[0]! & 0x7f;
      return bytes.toString('base64url');
    })();

  const props: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': join(dir, 'data'),
    'num.partitions': '1',
    'default.replication.factor': '1',
    'min.insync.replicas': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'share.coordinator.state.topic.num.partitions': '1',
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'false',
    'log.flush.interval.messages': '9223372036854775807',
    ...(opts.config ?? {}),
  };
  await writeFile(
    propsFile,
    Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
  );
  await writeFile(log4jFile, log4j2Config(logFile));

  const cp = `${libs}/*`;
  const jsa = join(cache, `kafka-${version}`, 'kafka.jsa');
  const cds = existsSync(jsa) ? ['-Xshare:auto', `-XX:SharedArchiveFile=${jsa}`] : [];
  const common = [...JVM_FLAGS, ...cds, '-cp', cp, `-Dlog4j2.configurationFile=file:${log4jFile}`];

  let child: ChildProcess | undefined;
  let out: WriteStream | undefined;
  const hardKill = (): void => {
    if (child && child.exitCode === null && child.signalCode === null) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  };

  try {
    const format = await runProcess(
      java,
      [...common, '-Xmx256m', 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propsFile, '--ignore-formatted'],
      { timeoutMs: 60_000 },
    );
    if (format.code !== 0) {
      throw new Error(`startKafka: kafka.tools.StorageTool format failed (exit ${format.code}):\n${format.stdout}${format.stderr}`);
    }

    const outStream = createWriteStream(outFile, { flags: 'a' });
    out = outStream;
    await new Promise<void>((resolve, reject) => {
      outStream.once('open', () => resolve());
      outStream.once('error', reject);
    });
    const heap = opts.heap ?? '512m';
    child = spawn(java, [`-Xmx${heap}`, `-Xms${heap === '512m' ? '128m' : heap}`, ...common, 'kafka.Kafka', propsFile], {
      stdio: ['ignore', outStream, outStream],
    });
    const spawned = child;
    let spawnError: Error | undefined;
    spawned.once('error', (e) => (spawnError = e));
    stopOnExit(dir, hardKill);

    // Readiness: the JVM lives, the listener accepts, and the server logged that it started.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (spawnError) throw spawnError;
      if (spawned.exitCode !== null || spawned.signalCode !== null) {
        throw new Error(
          `startKafka: the broker JVM exited (${spawned.exitCode ?? spawned.signalCode}) during startup\n` +
            `--- ${logFile} (last 30 lines) ---\n${await tail(logFile)}\n--- ${outFile} ---\n${await tail(outFile)}`,
        );
      }
      const log = existsSync(logFile) ? await readFile(logFile, 'utf8') : '';
      if (/Kafka Server started/.test(log) && (await portAccepts(port))) break;
      if (Date.now() > deadline) {
        throw new Error(
          `startKafka: broker not ready within ${timeoutMs} ms\n` +
            `--- ${logFile} (last 30 lines) ---\n${await tail(logFile)}\n--- ${outFile} ---\n${await tail(outFile)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    outStream.close();

    let removed = false;
    const instance: KafkaInstance = {
      brokers: [`127.0.0.1:${port}`],
      port,
      controllerPort,
      version,
      dir,
      logFile,
      async kill(): Promise<void> {
        hardKill();
        await waitExit(spawned, 10_000);
      },
      async stop(): Promise<void> {
        if (removed) return;
        removed = true;
        if (spawned.exitCode === null && spawned.signalCode === null) {
          spawned.kill('SIGTERM');
          if (!(await waitExit(spawned, 10_000))) {
            spawned.kill('SIGKILL');
            await waitExit(spawned, 10_000);
          }
        }
        forgetOnExit(dir);
        await rm(dir, { recursive: true, force: true });
      },
    };
    return instance;
  } catch (err) {
    out?.close();
    hardKill();
    if (child) await waitExit(child, 10_000);
    forgetOnExit(dir);
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
