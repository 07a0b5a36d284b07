/**
 * Issue "Nothing lost under faults", serving side, on the real broker and schema registry: a serving node's
 * routes (addServingRoutes) with its event spill (services/serving/event-spill.ts) in front of the SDK's
 * producer, as main.ts wires them, while the node loses Kafka for a while.
 *
 * The broker is shared with other tests, so it is not stopped: the node's Kafka client reaches it through a
 * network gate (kafkajs' `socketFactory`). Closing the gate destroys every connection the client holds and
 * refuses new ones (they go to a port nothing listens on), as a broker that died or a cut network does;
 * opening it lets the client reconnect to the same broker. Kafka itself is real throughout, and the events
 * are read back from its topic.
 *
 * Checked: every request is answered at once while Kafka is away; the events of the outage that fit the
 * bound are all delivered after it, in order (one user, so one partition); those beyond it are dropped and
 * counted (metric and warn line), and only those.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { ISocketFactory } from 'kafkajs';
import { pino } from 'pino';
import {
  AvroSerde, createKafka, createMetricsRegistry, createOpsServer, createSchemaRegistry, eventFromRecord, topicNames,
  type EventRecord, type UserEvent,
} from '../../services/common/index.js';
import { selectBackend } from '../../services/model/index.js';
import { sha256Hex } from '../../services/registry/index.js';
import { createEventProducer, type EventProducer } from '../../services/sdk/index.js';
import { addServingRoutes } from '../../services/serving/app.js';
import { EventSpill } from '../../services/serving/event-spill.js';
import { UserHistories } from '../../services/serving/history.js';
import { ModelSlot } from '../../services/serving/model-slot.js';
import { NO_EXPLORATION } from '../../services/serving/ranking.js';
import { eventually, freePort } from '../support/processes.js';
import { deleteTestTopics, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';
import { ENTRANCE_ITEMS, smallTrainer } from '../support/transitions.js';

const CAPACITY = 300;
const BEFORE = 100;
const DURING = 500;
const prefix = uniquePrefix('spill');
const topics = topicNames(prefix);
const kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-spill-reader', logger: testLogger });

/** The node's network path to the broker: open, or cut (connections destroyed, new ones refused). */
interface NetworkGate {
  open: boolean;
  refused: number;
  factory: ISocketFactory;
  cut(): void;
}

function networkGate(closedPort: number): NetworkGate {
  const live = new Set<net.Socket>();
  const gate: NetworkGate = {
    open: true,
    refused: 0,
    factory: ({ host, port, onConnect }) => {
      const socket: net.Socket = gate.open
        ? net.connect({ host, port }, onConnect)
        : net.connect({ host: '127.0.0.1', port: closedPort }, onConnect);
      if (!gate.open) gate.refused++;
      socket.setKeepAlive(true, 60_000);
      live.add(socket);
      socket.once('close', () => live.delete(socket));
      return socket;
    },
    cut() {
      gate.open = false;
      for (const s of live) s.destroy(new Error('network cut by the test'));
    },
  };
  return gate;
}

const logLines: { level: number; msg: string; [k: string]: unknown }[] = [];
const logger = pino({ level: 'info' }, { write: (s: string) => void logLines.push(JSON.parse(s)) });
let gate: NetworkGate;
let producer: EventProducer;
let spill: EventSpill;
const metrics = createMetricsRegistry('serving-spill-test');
const app = createOpsServer({ logger: pino({ level: 'silent' }), metrics });

before(async () => {
  await selectBackend({ prefer: 'cpu' });
  await provisionTestTopics(kafka, prefix);
  const trainer = smallTrainer();
  const weights = trainer.publishableWeights();
  const slot = new ModelSlot('deepchain');
  slot.install({
    model: 'deepchain', version: 1, checksum: sha256Hex(weights), sizeBytes: weights.byteLength, weights: Buffer.from(weights),
    registryRef: null, pinned: false, role: 'live', share: 0, at: 0,
  }, weights);

  // As services/serving/main.ts wires them, the client's network path aside.
  gate = networkGate(await freePort());
  const quiet = pino({ level: 'silent' }); // the client's connection errors while the network is cut are expected
  const nodeKafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-spill-node', logger: quiet }, { socketFactory: gate.factory });
  producer = createEventProducer({ kafka: nodeKafka, schemaRegistryUrl: servers.SCHEMA_REGISTRY_URL, topicPrefix: prefix, lingerMs: 20, logger: quiet });
  spill = new EventSpill({ capacity: CAPACITY, deliver: (batch) => producer.sendAll(batch), logger, metrics });
  addServingRoutes(app, {
    slot, histories: new UserHistories(10, 1000), metrics, maxK: 10, maxCandidates: 100,
    options: { recallSize: 50, recallSeeds: 5, exploration: NO_EXPLORATION },
    logEvent: (event) => void spill.offer(event),
  });
  await app.ready();
});

after(async () => {
  await spill?.close(5_000);
  await producer?.close();
  await app.close();
  await deleteTestTopics(kafka, prefix);
});

async function recommendOnce(i: number): Promise<{ requestId: string; ms: number }> {
  const t0 = process.hrtime.bigint();
  const res = await app.inject({
    method: 'POST', url: '/v1/recommend',
    payload: { userId: 'u-spill', sessionId: `s${i}`, scenario: 'entrance', k: 3, candidates: ENTRANCE_ITEMS },
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(res.statusCode, 200, res.body);
  return { requestId: (res.json() as { requestId: string }).requestId, ms };
}

/** The recommendation events in the topic, in partition order, each request id once (a retried copy is kept at its first place). */
async function readBack(expected: number): Promise<{ ids: string[]; records: number }> {
  const serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
  const events: UserEvent[] = [];
  const consumer = kafka.consumer({ groupId: `${prefix}reader`, maxWaitTimeInMs: 200 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: topics.events, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void events.push(eventFromRecord(await serde.decode<EventRecord>(message.value!))) });
    await eventually(async () => (events.length >= expected ? true : undefined), 60_000, `${expected} events in the topic (have ${events.length})`);
    await new Promise((r) => setTimeout(r, 1_500)); // anything beyond the expected would show up here
  } finally {
    await consumer.disconnect();
  }
  const ids = events.flatMap((e) => (e.type === 'recommendation' ? [e.requestId] : []));
  return { ids: [...new Set(ids)], records: events.length };
}

test('while Kafka is away requests are answered at once; held events are delivered in order after it returns, and those beyond the bound are dropped and counted', async () => {
  const sent: string[] = [];
  for (let i = 0; i < BEFORE; i++) sent.push((await recommendOnce(i)).requestId);
  await spill.drained();

  gate.cut();
  const cutAt = Date.now();
  const during: { requestId: string; ms: number }[] = [];
  for (let i = 0; i < DURING; i++) {
    during.push(await recommendOnce(BEFORE + i));
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 100)); // ~100 requests/s for ~5 s
  }
  const slowest = Math.max(...during.map((d) => d.ms));
  assert.ok(slowest < 500, `every request answered at once while Kafka is away (slowest ${slowest.toFixed(1)} ms)`);
  assert.equal(spill.size, CAPACITY, 'the spill holds its bound');
  assert.equal(spill.dropped, DURING - CAPACITY, 'the rest dropped');
  // Keep the outage until the producer gave up on a batch at least once: the spill must hold it, not lose it.
  await eventually(async () => (logLines.some((l) => l.msg.startsWith('recommendation events not delivered yet')) ? true : undefined),
    60_000, 'a delivery to fail while the network is cut');
  assert.ok(gate.refused > 0, 'the client tried to reconnect and was refused');
  assert.equal(spill.size, CAPACITY, 'nothing given up while Kafka is away');
  const outageMs = Date.now() - cutAt;

  gate.open = true;
  await eventually(async () => (spill.size === 0 ? true : undefined), 60_000, 'the spill to drain after Kafka is back');
  const kept = during.slice(0, CAPACITY).map((d) => d.requestId);
  const droppedIds = new Set(during.slice(CAPACITY).map((d) => d.requestId));
  const expected = [...sent, ...kept];
  const back = await readBack(expected.length);
  assert.deepEqual(back.ids, expected, 'every event held is in the topic, in the order served');
  assert.ok(!back.ids.some((id) => droppedIds.has(id)), 'no dropped event was written');

  const text = await metrics.metrics();
  assert.match(text, new RegExp(`deepchain_serving_events_dropped_total\\{[^}]*\\} ${DURING - CAPACITY}\\b`));
  assert.match(text, /deepchain_serving_events_spilled\{[^}]*\} 0\b/);
  const warned = logLines.filter((l) => l.msg === 'event spill full: recommendation events dropped');
  assert.ok(warned.length >= 1 && warned.length <= 2, `warned once per 10 s of dropping (${warned.length})`);
  assert.ok(logLines.some((l) => l.msg === 'recommendation events delivered again'));
  testLogger.info({ outageMs, slowestMs: slowest, records: back.records }, 'serving spill');
});
