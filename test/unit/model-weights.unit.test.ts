/** The weights format (services/model/weights-format.ts) and DeepChainModel.load: round trip and rejections. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createDeepChain, decodeWeights, deepChainFromWeights, encodeWeights, selectBackend, WeightsFormatError } from '../../services/model/index.js';

before(async () => {
  await selectBackend({ prefer: 'cpu' });
});

const small = { embeddingSize: 4, hiddenSize: 6, historyLength: 5, attentionSize: 3, headHidden: [5] };

function model() {
  const m = createDeepChain(small);
  m.vocabulary.add('x');
  m.vocabulary.add('y');
  m.setItemEmbeddings(Float32Array.from({ length: 3 * 4 }, (_, i) => Math.sin(i)));
  return m;
}

test('serialize → decode → load gives bit-identical tensors, config and vocabulary', () => {
  const m = model();
  const bytes = m.serialize();
  const decoded = decodeWeights(bytes);
  assert.deepEqual(decoded.vocabulary, ['x', 'y']);
  const again = deepChainFromWeights(bytes);
  assert.deepEqual(again.config, m.config);
  const a = m.snapshot().tensors;
  const b = again.snapshot().tensors;
  assert.equal(a.length, b.length);
  a.forEach((t, i) => {
    assert.equal(t.name, b[i]!.name);
    assert.deepEqual(t.shape, b[i]!.shape);
    assert.deepEqual(Buffer.from(t.values.buffer), Buffer.from(b[i]!.values.buffer), t.name);
  });
  assert.deepEqual(Buffer.from(again.serialize()), Buffer.from(bytes));
  // The header says what the file holds.
  assert.ok(decoded.tensors.some((t) => t.name === 'critic.gru.ur' && t.shape.join() === '6,6'));
});

test('a flipped payload byte fails the checksum', () => {
  const bytes = model().serialize();
  bytes[bytes.length - 3]! ^= 0x10;
  assert.throws(() => decodeWeights(bytes), (e: unknown) => e instanceof WeightsFormatError && e.reason === 'checksum' && /sha256/.test(e.message));
});

test('a shape that differs from the model is named', () => {
  const other = createDeepChain({ ...small, hiddenSize: 7 }).snapshot({ items: false });
  const m = model();
  assert.throws(() => m.load(other), (e: unknown) => e instanceof WeightsFormatError && e.reason === 'shape' && /shape mismatch for 'actor\.entrance\.gru\.wr'/.test(e.message));
});

test('non-finite numbers are rejected with the tensor and index', () => {
  const s = model().snapshot({ items: false });
  const tensors = s.tensors.map((t) => ({ ...t, values: Float32Array.from(t.values) }));
  tensors[2]!.values[1] = NaN;
  assert.throws(() => encodeWeights({ ...s, tensors }), new RegExp(`non-finite.*'${tensors[2]!.name}'.*index 1`));
  // A file written by a buggy writer (checksum valid, value NaN) is rejected on decode too.
  const good = encodeWeights(s);
  const view = new DataView(good.buffer);
  const headerLength = view.getUint32(4, true);
  view.setFloat32(8 + headerLength, Infinity, true);
  const header = JSON.parse(Buffer.from(good.subarray(8, 8 + headerLength)).toString());
  header.sha256 = createHash('sha256').update(good.subarray(8 + headerLength)).digest('hex');
  const json = Buffer.from(JSON.stringify(header).padEnd(headerLength, ' '));
  assert.equal(json.length, headerLength);
  good.set(json, 8);
  assert.throws(() => decodeWeights(good), (e: unknown) => e instanceof WeightsFormatError && e.reason === 'non-finite' && /index 0/.test(e.message));
});

test('a truncated or foreign file is rejected', () => {
  assert.throws(() => decodeWeights(new Uint8Array([1, 2, 3])), /not a DeepChain weights file/);
  const bytes = model().serialize();
  assert.throws(() => decodeWeights(bytes.subarray(0, 20)), WeightsFormatError);
});
