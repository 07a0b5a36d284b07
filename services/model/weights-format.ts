/**
 * The weights wire format, version 1: self-describing and checked on load.
 *
 *   bytes 0..3   magic "DCW1"
 *   bytes 4..7   header length L, uint32 little-endian
 *   bytes 8..    header: UTF-8 JSON {format, version, config, dtype, tensors: [{name, shape, offset, length}],
 *                vocabulary, sha256}, space-padded to a multiple of 4 bytes
 *   then         payload: every tensor's float32 values, little-endian, at its offset (in elements)
 *
 * sha256 is over the payload. Decoding rejects, with an error that names the problem: a wrong magic or
 * version, a checksum mismatch, a tensor whose shape does not match its length, non-finite values (naming
 * the tensor and index), and (in DeepChainModel.load) a shape that differs from the model's.
 */
import { createHash } from 'node:crypto';

export const WEIGHTS_FORMAT = 'deepchain-weights';
export const WEIGHTS_VERSION = 1;
const MAGIC = [0x44, 0x43, 0x57, 0x31]; // "DCW1"

export interface NamedTensor {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

export interface WeightsSnapshot {
  /** The resolved model config (JSON-safe). */
  readonly config: unknown;
  readonly tensors: readonly NamedTensor[];
  /** Item ids in index order (index 1 first), when the snapshot carries the item embeddings. */
  readonly vocabulary: readonly string[] | null;
}

export class WeightsFormatError extends Error {
  constructor(readonly reason: 'magic' | 'version' | 'header' | 'checksum' | 'shape' | 'non-finite', message: string) {
    super(`invalid weights (${reason}): ${message}`);
    this.name = 'WeightsFormatError';
  }
}

interface Header {
  format: string;
  version: number;
  config: unknown;
  dtype: 'float32';
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
  vocabulary: string[] | null;
  sha256: string;
}

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i]!)) return i;
  return -1;
}

export function encodeWeights(snapshot: WeightsSnapshot): Uint8Array {
  let offset = 0;
  const tensors = snapshot.tensors.map((t) => {
    if (sizeOf(t.shape) !== t.values.length) throw new WeightsFormatError('shape', `tensor '${t.name}' has shape [${t.shape.join(',')}] but ${t.values.length} values`);
    const bad = firstNonFinite(t.values);
    if (bad >= 0) throw new WeightsFormatError('non-finite', `tensor '${t.name}' holds ${t.values[bad]} at index ${bad}`);
    const entry = { name: t.name, shape: [...t.shape], offset, length: t.values.length };
    offset += t.values.length;
    return entry;
  });
  const payload = new Uint8Array(offset * 4);
  const view = new DataView(payload.buffer);
  snapshot.tensors.forEach((t, k) => {
    const base = tensors[k]!.offset * 4;
    for (let i = 0; i < t.values.length; i++) view.setFloat32(base + i * 4, t.values[i]!, true);
  });
  const header: Header = {
    format: WEIGHTS_FORMAT,
    version: WEIGHTS_VERSION,
    config: snapshot.config,
    dtype: 'float32',
    tensors,
    vocabulary: snapshot.vocabulary ? [...snapshot.vocabulary] : null,
    sha256: createHash('sha256').update(payload).digest('hex'),
  };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (4 - (json.length % 4)) % 4;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.length + payload.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, 8);
  out.set(payload, 8 + json.length);
  return out;
}

export function decodeWeights(bytes: Uint8Array): WeightsSnapshot {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) throw new WeightsFormatError('magic', 'not a DeepChain weights file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(4, true);
  if (8 + headerLength > bytes.length) throw new WeightsFormatError('header', 'header runs past the end of the data');
  let header: Header;
  try {
    header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8')) as Header;
  } catch (err) {
    throw new WeightsFormatError('header', `header is not JSON: ${(err as Error).message}`);
  }
  if (header.format !== WEIGHTS_FORMAT) throw new WeightsFormatError('magic', `format is '${header.format}', expected '${WEIGHTS_FORMAT}'`);
  if (header.version !== WEIGHTS_VERSION) throw new WeightsFormatError('version', `version ${header.version} is not supported (expected ${WEIGHTS_VERSION})`);
  if (header.dtype !== 'float32') throw new WeightsFormatError('header', `dtype '${header.dtype}' is not supported`);
  const payload = bytes.subarray(8 + headerLength);
  const digest = createHash('sha256').update(payload).digest('hex');
  if (digest !== header.sha256) throw new WeightsFormatError('checksum', `sha256 of the payload is ${digest}, header says ${header.sha256}`);
  const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const tensors = header.tensors.map((t) => {
    if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(t.shape) !== t.length) {
      throw new WeightsFormatError('shape', `tensor '${t.name}' has shape [${String(t.shape)}] but length ${t.length}`);
    }
    if ((t.offset + t.length) * 4 > payload.length) throw new WeightsFormatError('shape', `tensor '${t.name}' runs past the end of the payload`);
    const values = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) values[i] = pv.getFloat32((t.offset + i) * 4, true);
    const bad = firstNonFinite(values);
    if (bad >= 0) throw new WeightsFormatError('non-finite', `tensor '${t.name}' holds ${values[bad]} at index ${bad}`);
    return { name: t.name, shape: t.shape, values };
  });
  return { config: header.config, tensors, vocabulary: header.vocabulary };
}
