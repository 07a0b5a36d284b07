import assert from 'node:assert/strict';
import { test } from 'node:test';
import avsc from 'avsc';
import {
  createSchemaRegistry, DeepChainError, eventFromRecord, eventToRecord, readSchema, registerValueSchema, topicNames,
  type EventRecord, type UserEvent,
} from '../../services/common/index.js';
import { servers, uniquePrefix } from '../support/servers.js';

type Schema = { fields: { name: string; type: unknown; default?: unknown }[] } & Record<string, unknown>;

const v1Text = readSchema('event');
const v1 = JSON.parse(v1Text) as Schema;
/** v2: one new optional field (a union with null, default null): a BACKWARD-compatible change. */
const v2: Schema = { ...v1, fields: [...v1.fields, { name: 'referrer', type: ['null', 'string'], default: null }] };
const subjectUrl = (topic: string) => `${servers.SCHEMA_REGISTRY_URL}/subjects/${encodeURIComponent(`${topic}-value`)}`;

const event: UserEvent = {
  type: 'click', eventId: 'e1', userId: 'u1', sessionId: 's1', eventTime: 1_700_000_000_000, scenario: 'entrance', requestId: 'r1', itemId: 'i1', position: 3,
};

test('a v2 with a new optional field is accepted, and v1 and v2 readers each decode the other version', async () => {
  const registry = createSchemaRegistry(servers.SCHEMA_REGISTRY_URL);
  const topic = topicNames(uniquePrefix('evolution')).events;
  const v1Id = await registerValueSchema(registry, topic, v1Text);
  const v2Id = await registerValueSchema(registry, topic, JSON.stringify(v2));
  assert.notEqual(v2Id, v1Id);
  const versions = (await (await fetch(`${subjectUrl(topic)}/versions`)).json()) as number[];
  assert.equal(versions.length, 2);

  // A v2 writer's record, framed by the registry client (magic byte, v2's id, body).
  const v2Record = { ...eventToRecord(event), referrer: 'newsletter' };
  const framed = await registry.encode(v2Id, v2Record);
  assert.equal(framed.readInt32BE(1), v2Id);

  // A v1 reader (an old consumer) resolves the writer's schema, fetched from the registry by the id in the frame.
  const v1Reader = avsc.Type.forSchema(v1 as avsc.Schema);
  const writer = avsc.Type.forSchema(JSON.parse(((await (await fetch(`${servers.SCHEMA_REGISTRY_URL}/schemas/ids/${v2Id}`)).json()) as { schema: string }).schema));
  const asV1 = v1Reader.fromBuffer(framed.subarray(5), v1Reader.createResolver(writer)) as EventRecord;
  assert.ok(!('referrer' in asV1), 'the new field is skipped by the old reader');
  assert.deepEqual(eventFromRecord(asV1), event);

  // BACKWARD proper: a v2 reader decodes a v1 record, the new field taking its default.
  const v1Framed = await registry.encode(v1Id, eventToRecord(event));
  const asV2 = (await registry.decode(v1Framed, { AVRO: { readerSchema: v2 } } as never)) as EventRecord & { referrer: string | null };
  assert.equal(asV2.referrer, null);
  assert.deepEqual(eventFromRecord(asV2), event);
});

test("incompatible changes are refused with the registry's reason, and the subject keeps its versions", async () => {
  const registry = createSchemaRegistry(servers.SCHEMA_REGISTRY_URL);
  const topic = topicNames(uniquePrefix('evolution')).events;
  await registerValueSchema(registry, topic, v1Text);

  const requiredField: Schema = { ...v1, fields: [...v1.fields, { name: 'tenant', type: 'string' }] };
  const typeChange: Schema = { ...v1, fields: v1.fields.map((f) => (f.name === 'eventTime' ? { ...f, type: 'string' } : f)) };
  const cases = [
    ['a new field without a default', requiredField, /tenant/],
    ['a changed field type', typeChange, /eventTime|fields\/3/],
  ] as const;
  for (const [what, schema, names] of cases) {
    await assert.rejects(registerValueSchema(registry, topic, JSON.stringify(schema)), (err: DeepChainError) => {
      assert.equal(err.code, 'REGISTRY_INCOMPATIBLE', `${what}: ${err.message}`);
      assert.equal(err.retriable, false);
      assert.match(err.message, new RegExp(`schema change refused by the registry: subject ${topic.replace(/[.]/g, '\\.')}-value: `));
      assert.match(err.message, /incompatib/i, `${what}: the registry's reason is in the message: ${err.message}`);
      assert.match(err.message, names, `${what}: the reason names the offending field: ${err.message}`);
      return true;
    });
  }
  const versions = (await (await fetch(`${subjectUrl(topic)}/versions`)).json()) as number[];
  assert.equal(versions.length, 1);
});
