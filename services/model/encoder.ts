/**
 * The state encoder every DeepChain network starts with (paper Figures 3 and 4): item embeddings of the
 * last N clicked items → GRU → item-level attention. Networks share the architecture, never the weights.
 */
import { createAttention, type AttentionWeights } from './attention.js';
import type { GruWeights } from './gru.js';
import type { ParamStore } from './params.js';

export interface EncoderWeights {
  readonly gru: GruWeights;
  readonly attention: AttentionWeights;
}

export function createGru(store: ParamStore, prefix: string, E: number, H: number): GruWeights {
  return {
    wr: store.glorot(`${prefix}.wr`, [E, H]),
    wz: store.glorot(`${prefix}.wz`, [E, H]),
    wn: store.glorot(`${prefix}.wn`, [E, H]),
    ur: store.glorot(`${prefix}.ur`, [H, H]),
    uz: store.glorot(`${prefix}.uz`, [H, H]),
    un: store.glorot(`${prefix}.un`, [H, H]),
    br: store.zeros(`${prefix}.br`, [H]),
    bz: store.zeros(`${prefix}.bz`, [H]),
    bn: store.zeros(`${prefix}.bn`, [H]),
    bhn: store.zeros(`${prefix}.bhn`, [H]),
  };
}

export function createEncoder(
  store: ParamStore,
  prefix: string,
  sizes: { E: number; H: number; A: number },
  heads: number,
): EncoderWeights {
  return {
    gru: createGru(store, `${prefix}.gru`, sizes.E, sizes.H),
    attention: createAttention(store, `${prefix}.attention`, sizes.H, sizes.A, heads),
  };
}

