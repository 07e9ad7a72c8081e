// What scripts/port-forward.mts keeps open to Kafka: broker i on the stack's laptop port base + i, the address it
// advertises to laptop clients (kafka-topology.ts), known by its answer to an ApiVersions request.

import net from 'node:net';
import { errorMessage } from '../../core/errors.js';
import { NOT_ANSWERING, PROBE_TIMEOUT_MS } from '../../run/port-forward.js';
import { KAFKA_LAPTOP_SLOT, LOCAL_HOST, podName, portForwardTargets, STATEFULSET } from '../shared/kafka-topology.js';
import type { Forwards } from '../types.js';

/** The first stack's base port: broker i on BASE + i. */
const BASE = KAFKA_LAPTOP_SLOT.port(0);
const PROBE_CORRELATION_ID = 0x4c46;
/** ApiVersions (key 18) v0, which every broker accepts first: Int32 size 25, Int16 key, Int16 version, Int32
 * correlation id, then the client id as Int16 length 15 and its bytes. */
export const KAFKA_API_VERSIONS_REQUEST = Buffer.concat([Buffer.from([0, 0, 0, 25, 0, 18, 0, 0, 0, 0, 0x4c, 0x46, 0, 15]), Buffer.from('learnflow-probe')]);

/** A broker answers with our correlation id; a broken tunnel accepts the connection and then closes it. */
function probeKafka(port: number): Promise<{ answers: boolean; detail: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let got = Buffer.alloc(0);
    const done = (answers: boolean, detail: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ answers, detail });
    };
    const timer = setTimeout(() => done(false, NOT_ANSWERING.timeout), PROBE_TIMEOUT_MS);
    socket.once('error', (err: NodeJS.ErrnoException) => done(false, err.code === 'ECONNREFUSED' ? NOT_ANSWERING.refused : errorMessage(err)));
    socket.once('connect', () => socket.write(KAFKA_API_VERSIONS_REQUEST));
    socket.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < 8) return;
      // Int32 size, then our correlation id.
      const ours = got.readInt32BE(4) === PROBE_CORRELATION_ID;
      done(ours, ours ? 'Kafka answered' : 'something answered, but not Kafka');
    });
    socket.once('close', () => done(false, NOT_ANSWERING.closed));
  });
}

export const kafkaForwards: Forwards = {
  slot: KAFKA_LAPTOP_SLOT,
  help: `for broker i ${LOCAL_HOST}:${BASE}+i -> pod/${STATEFULSET}-i:${BASE}+i (the address each broker advertises to laptop clients)`,
  lookup: `statefulset/${STATEFULSET}`,
  async resolve(ctx, base) {
    const sts = await ctx.kube.getOptional<{ spec?: { replicas?: number } }>('statefulset', STATEFULSET);
    const brokers = sts ? (sts.spec?.replicas ?? 1) : 0;
    if (!brokers)
      ctx.log.warn(
        `no statefulset/${STATEFULSET} (or 0 replicas) in namespace ${ctx.config.namespace}: not forwarding Kafka (deploy it: ./scripts/deploy-kafka.mts)`,
      );
    return portForwardTargets(brokers, base).map((t, i) => ({ ...t, name: podName(i) }));
  },
  plan: () => [`127.0.0.1:BASE+i -> pod/${STATEFULSET}-i:BASE+i for each broker i of statefulset/${STATEFULSET} (BASE: ${BASE} for the first stack)`],
  probe: probeKafka,
  hints: (_namespace, ports) => [
    `Kafka (each broker advertises its own ${LOCAL_HOST} port, so every laptop client works):`,
    `  bootstrap servers: ${ports.map((p) => `${LOCAL_HOST}:${p}`).join(',')}`,
  ],
  portTaken: (f) => ({
    fix: `stop what listens there (lsof -iTCP:${f.localPort} -sTCP:LISTEN): broker ${f.name} advertises ${LOCAL_HOST}:${f.localPort}, so this port cannot move`,
  }),
};
