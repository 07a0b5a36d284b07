/**
 * A serving node's `models` consumer and its announcements (services/serving/streams.ts), without servers.
 *
 * A consumer kafkajs gave up on (a crash it deems non-retriable, as `Failed to find group coordinator` right after
 * the broker comes back: no restart) is replaced by a new one, so the node still hears of new versions.
 *
 * Announcements by reference (weights in the registry, not inline) while Postgres is away
 * (services/serving/streams.ts): the node keeps the last good version, and once the registry answers again it
 * loads the announced one by itself — the `models` consumer has moved past the message, so nothing else brings
 * it back. A newer announcement supersedes one still waiting for its weights. No servers: the pool, the serde
 * and the Kafka client are stand-ins; the announcement handler is the node's own.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import { pino } from 'pino';
import { topicNames, type AvroSerde } from '../../services/common/index.js';
import { selectBackend } from '../../services/model/index.js';
import { announcementFromRecord, challengerKey, sha256Hex, type ModelAnnouncement } from '../../services/registry/index.js';
import { UserHistories } from '../../services/serving/history.js';
import { ModelSlot } from '../../services/serving/model-slot.js';
import type { KeptConsumer } from '../../services/common/index.js';
import { ServingStreams } from '../../services/serving/streams.js';
import { fakeKafka } from '../support/fake-kafka.js';
import { eventually } from '../support/processes.js';
import { smallTrainerVersions } from '../support/transitions.js';

let weights: Uint8Array[] = [];
before(async () => {
  await selectBackend({ prefer: 'cpu' });
  weights = smallTrainerVersions(3);
});

/** version → weights in the stand-in registry; `down` refuses connections as a stopped Postgres does. */
function registry() {
  const rows = new Map<number, Uint8Array | null>(); // null: weights pruned by the retention policy
  const state = { down: false, fetches: 0, refused: 0 };
  const pool = {
    connect: async () => {
      if (state.down) {
        state.refused++;
        throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
      }
      return {
        release: () => undefined,
        query: async (text: string, params: unknown[] = []) => {
          if (/FROM model_versions WHERE model = \$1 AND version = \$2/.test(text)) {
            state.fetches++;
            const w = rows.get(Number(params[1]));
            return {
              rows: w !== undefined ? [{
                model: params[0], version: params[1], parent_version: null, created_at: new Date(), train_steps: 0, transitions_seen: 0,
                source_offsets: {}, metrics: {}, checksum: 'c', size_bytes: 1, status: 'live', weights_pruned_at: w ? null : new Date(),
                decision: null, weights: w ? Buffer.from(w) : null,
              }] : [],
            };
          }
          return { rows: [] }; // recordDeployment and the like
        },
      };
    },
  };
  return { rows, state, pool: pool as unknown as pg.Pool };
}

function node(pool: pg.Pool) {
  const slot = new ModelSlot('deepchain');
  const challenger = new ModelSlot('deepchain');
  // The stand-in serde: the record is a key into the announcements handed to `deliver`.
  const sent = new Map<string, ModelAnnouncement>();
  const serde = { decode: async (value: Buffer) => sent.get(value.toString())! } as unknown as AvroSerde;
  const logLines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logLines.push((JSON.parse(s) as { msg: string }).msg) });
  const streams = new ServingStreams({
    nodeId: 'n1', kafka: {} as Kafka, serde, pool, topics: topicNames('unit.'), slot, challenger, histories: new UserHistories(10, 100), logger,
  });
  const handler = (streams as unknown as { onAnnouncement(from: object, key: Buffer | null, value: Buffer | null): Promise<void> })
    .onAnnouncement.bind(streams);
  const from = () => ({ topic: 'unit.models', partition: 0, offset: String(sent.size) });
  const deliver = (a: ModelAnnouncement) => {
    const value = `m${sent.size}`;
    sent.set(value, a);
    return handler(from(), Buffer.from(a.role === 'challenger' ? challengerKey(a.model) : a.model), Buffer.from(value));
  };
  /** The learner's withdrawal of the challenger: a tombstone on its key. */
  const withdraw = () => handler(from(), Buffer.from(challengerKey('deepchain')), null);
  return { slot, challenger, streams, logLines, deliver, withdraw };
}

const inline = (version: number, w: Uint8Array) => announcement(version, w, true);
const byReference = (version: number, w: Uint8Array) => announcement(version, w, false);
const announcement = (version: number, w: Uint8Array, withWeights: boolean): ModelAnnouncement => ({
  model: 'deepchain', version, checksum: sha256Hex(w), sizeBytes: w.byteLength,
  weights: withWeights ? Buffer.from(w) : null, registryRef: withWeights ? null : `registry:deepchain/${version}`, pinned: false,
  role: 'live', share: 0, at: 0,
});
const asChallenger = (a: ModelAnnouncement, share: number): ModelAnnouncement => ({ ...a, role: 'challenger', share });

test('a version announced by reference while Postgres is away is loaded once it is back; the last good one serves meanwhile', async () => {
  const reg = registry();
  const n = node(reg.pool);
  await n.deliver(inline(1, weights[0]!));
  assert.equal(n.slot.current?.version, 1);

  reg.rows.set(2, weights[1]!);
  reg.state.down = true;
  await n.deliver(byReference(2, weights[1]!));
  assert.equal(n.slot.current?.version, 1, 'the last good version keeps serving while the registry is away');
  assert.ok(n.logLines.includes('cannot fetch weights from the registry; keeping the current version, retrying'));
  await eventually(async () => (reg.state.refused >= 2 ? true : undefined), 5_000, 'a second attempt while Postgres is away');
  assert.equal(n.slot.current?.version, 1);

  reg.state.down = false;
  await eventually(async () => (n.slot.current?.version === 2 ? true : undefined), 10_000, 'version 2 installed after Postgres is back');
  assert.ok(n.logLines.includes('weights fetched from the registry after it came back'));
  await n.streams.stop().catch(() => undefined);
});

test('a newer announcement supersedes one still waiting for its weights', async () => {
  const reg = registry();
  const n = node(reg.pool);
  await n.deliver(inline(1, weights[0]!));
  reg.rows.set(2, weights[1]!);
  reg.state.down = true;
  await n.deliver(byReference(2, weights[1]!));
  await n.deliver(inline(3, weights[2]!));
  assert.equal(n.slot.current?.version, 3);
  reg.state.down = false;
  await new Promise((r) => setTimeout(r, 1_500)); // past the retry's backoff
  assert.equal(n.slot.current?.version, 3, 'the older version is not installed over the newer one');
  assert.equal(reg.state.fetches, 0, 'the superseded fetch was not tried again');
  await n.streams.stop().catch(() => undefined);
});

test('a version whose weights were pruned is not fetched again: the registry answered', async () => {
  const reg = registry();
  const n = node(reg.pool);
  await n.deliver(inline(1, weights[0]!));
  reg.rows.set(2, null);
  await n.deliver(byReference(2, weights[1]!));
  await new Promise((r) => setTimeout(r, 1_500)); // past the first retry's backoff
  assert.equal(reg.state.fetches, 1);
  assert.equal(n.slot.current?.version, 1);
  assert.ok(n.logLines.includes('announcement ignored; keeping the current version'));
  await n.streams.stop().catch(() => undefined);
});

test('a models consumer kafkajs gives up on is replaced by a new one reading from the beginning; one it restarts itself is left alone', async () => {
  const { made, kafka } = fakeKafka();
  const logLines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logLines.push((JSON.parse(s) as { msg: string }).msg) });
  const streams = new ServingStreams({
    nodeId: 'n1', kafka, serde: {} as AvroSerde, pool: registry().pool, topics: topicNames('unit.'), slot: new ModelSlot('deepchain'),
    histories: new UserHistories(10, 100), logger,
  });
  await (streams as unknown as { models: KeptConsumer }).models.start();
  assert.equal(made.length, 1);
  assert.deepEqual(made[0]!.subscribed, { topic: 'unit.models', fromBeginning: true });

  made[0]!.crash(true); // kafkajs restarts this one itself
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(made.length, 1, 'no second consumer while kafkajs restarts the first');

  made[0]!.crash(false); // kafkajs gave up: without a new consumer the node would never see a new version
  await eventually(async () => (made.length === 2 && made[1]!.running ? true : undefined), 10_000, 'a new models consumer running');
  assert.ok(made[0]!.disconnected, 'the old consumer is disconnected');
  assert.notEqual(made[1]!.groupId, made[0]!.groupId, 'a group of its own');
  assert.deepEqual(made[1]!.subscribed, { topic: 'unit.models', fromBeginning: true });
  assert.ok(logLines.includes('models consumer running again'));

  (streams as unknown as { history: { stop(): Promise<void> } }).history.stop = async () => undefined;
  await streams.stop();
  made[1]!.crash(false);
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(made.length, 2, 'nothing restarted after stop');
});

test('a challenger goes to its own slot and its share travels with it; the live version and its pending fetch are untouched; a tombstone withdraws it', async () => {
  const reg = registry();
  const n = node(reg.pool);
  await n.deliver(inline(1, weights[0]!));
  reg.rows.set(2, weights[1]!);
  reg.state.down = true;
  await n.deliver(byReference(2, weights[1]!)); // live version 2 waits for Postgres
  await n.deliver(asChallenger(inline(3, weights[2]!), 0.25));
  assert.equal(n.slot.current?.version, 1, 'the live slot still holds version 1');
  assert.equal(n.challenger.current?.version, 3);
  assert.equal(n.challenger.current?.share, 0.25);
  assert.ok(n.logLines.includes('challenger installed'));

  reg.state.down = false;
  await eventually(async () => (n.slot.current?.version === 2 ? true : undefined), 10_000, 'live version 2 installed: the challenger did not supersede its fetch');
  assert.equal(n.challenger.current?.version, 3);

  await n.deliver(asChallenger(inline(3, weights[2]!), 0.5)); // the same weights with another share
  assert.equal(n.challenger.current?.share, 0.5);
  await n.withdraw();
  assert.equal(n.challenger.current, null);
  assert.equal(n.slot.current?.version, 2, 'withdrawing the challenger leaves the live version');
  assert.ok(n.logLines.includes('challenger withdrawn; every user gets the live version'));
  await n.streams.stop().catch(() => undefined);
});

test('an announcement written before role and share existed is read as the live version', () => {
  const old = { model: 'deepchain', version: 4, checksum: 'c', sizeBytes: 1, weights: null, registryRef: 'registry:deepchain/4', pinned: false, at: 0 };
  const a = announcementFromRecord(old as unknown as ModelAnnouncement);
  assert.equal(a.role, 'live');
  assert.equal(a.share, 0);
});
