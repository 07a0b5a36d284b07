/**
 * One parameter-updating iteration of Algorithm 1 (lines 9–14) on a minibatch from the replay buffer.
 *
 * Work reuse (issue 8): the step runs two encoder passes (encoder.ts: GRU and attention):
 *   1. the target pass, forward only: the target critic and the target actors over every distinct next
 *      state s'_j that Eq. 1 needs (after a skip s' is s; after a click, s plus the item), each once;
 *   2. the online pass, forward and backward: probability net, critic and actors over s. The critic's
 *      encoding of s serves both line 12 (Q(s, a) of the logged action) and line 13 (Q(s, π(s)) for the
 *      policy gradient); lines 10, 12 and 13 take their gradients in one backward pass, with
 *      stop-gradients keeping each loss to its own network (p is fixed in Eq. 1, the critic is fixed in
 *      Eq. 4). So lines 12 and 13 both see the critic as it was at the start of the step.
 */
import * as tf from '@tensorflow/tfjs';
import { actorHead } from './actor.js';
import type { Adam } from './adam.js';
import { criticValue } from './critic.js';
import { encode, encodeWithoutGradient, type EncoderInput } from './encoder.js';
import { flopMeter } from './flops.js';
import { actorOf, softUpdateTargets, TARGET_PREFIX, type DeepChainNetworks } from './networks.js';
import { embeddingRows, gatherRows, stopGradient } from './ops.js';
import { behaviourLogProbs, behaviourSlotBias } from './probability-net.js';
import type { ReplayBatch } from './replay-buffer.js';
import { eq1Slots, eq1TargetTensor, type Eq1Slots } from './target.js';
import { APPENDING_BEHAVIOURS } from './config.js';
import { PAD_INDEX } from './vocabulary.js';

export interface TrainStepResult {
  /** Line 10: cross-entropy of the probability net on the logged behaviours. */
  readonly probabilityLoss: number;
  /** Line 12: mean (y − Q(s, a))². */
  readonly criticLoss: number;
  /** Line 13: −mean Q(s, π(s)). */
  readonly actorLoss: number;
  /** Mean y, for monitoring. */
  readonly meanTarget: number;
  /** Matrix-product FLOPs this step performed (flops.ts). */
  readonly flops: number;
}

export interface Optimizers {
  readonly actor: Adam;
  readonly critic: Adam;
  readonly probability: Adam;
}

/** Sequences for a GRU: item indices time-major [N·R] (right-padded with 0) and lengths [R]. */
interface Sequences {
  readonly ids: Int32Array;
  readonly lengths: Uint16Array;
}

function sequences(batch: ReplayBatch, rows: readonly { row: number; appended: boolean }[]): Sequences {
  const N = batch.historyLength;
  const R = rows.length;
  const ids = new Int32Array(N * R);
  const lengths = new Uint16Array(R);
  rows.forEach(({ row, appended }, j) => {
    const len = batch.lengths[row]!;
    const base = row * N;
    let out = 0;
    // After a click the oldest item drops out once the history is full (s' keeps the last N).
    const start = appended && len === N ? 1 : 0;
    for (let t = start; t < len; t++) ids[out++ * R + j] = batch.states[base + t]!;
    if (appended) ids[out++ * R + j] = batch.actions[row]!;
    lengths[j] = out;
  });
  return { ids, lengths };
}

function oneHot(indices: ArrayLike<number>, depth: number): tf.Tensor2D {
  const v = new Float32Array(indices.length * depth);
  for (let i = 0; i < indices.length; i++) v[i * depth + indices[i]!] = 1;
  return tf.tensor2d(v, [indices.length, depth]);
}

/** Contiguous runs of equal keys in an array sorted by key. */
function runs(keys: readonly number[]): { key: number; start: number; count: number }[] {
  const out: { key: number; start: number; count: number }[] = [];
  keys.forEach((k, i) => {
    const last = out[out.length - 1];
    if (last && last.key === k) last.count++;
    else out.push({ key: k, start: i, count: 1 });
  });
  return out;
}

/** The encoder inputs of each actor of a set over given sequences (sorted by actor): one per run of rows. */
function actorInputs(emb: Float32Array, seq: Sequences, actorKeys: readonly number[], N: number, E: number): { key: number; input: EncoderInput }[] {
  const R = actorKeys.length;
  return runs(actorKeys).map((run) => {
    const ids = new Int32Array(N * run.count);
    for (let t = 0; t < N; t++) ids.set(seq.ids.subarray(t * R + run.start, t * R + run.start + run.count), t * run.count);
    const lengths = seq.lengths.subarray(run.start, run.start + run.count);
    return { key: run.key, input: { x: gatherRows(emb, E, ids), rows: run.count, lengths, heads: null } };
  });
}

function appends(layout: DeepChainNetworks['layout'], scenario: number, behaviour: number): boolean {
  const b = layout.behaviours[scenario]?.[behaviour];
  return b !== undefined && APPENDING_BEHAVIOURS.includes(b);
}

/**
 * TD3+BC's actor objective (Fujimoto & Gu 2021, Eq. 3) with the cloning term on the rows whose logged item
 * was clicked or bought: −mean Q(s, π(s)) / mean|Q| + w · mean over those rows of ‖π(s) − e_a‖². The scale
 * 1 / mean|Q| is held fixed (no gradient), so w alone sets the balance whatever the size of the rewards.
 */
function cloningActorLoss(qPi: tf.Tensor1D, proto: tf.Tensor2D, action: tf.Tensor2D, mask: tf.Tensor1D, weight: number): tf.Scalar {
  const scale = stopGradient(tf.add(tf.mean(tf.abs(qPi)), 1e-6));
  const policy = tf.neg(tf.div(tf.mean(qPi), scale));
  const distance = tf.sum(tf.square(tf.sub(proto, action)), 1);
  const rows = tf.maximum(tf.sum(mask), 1);
  const cloning = tf.div(tf.sum(tf.mul(distance, mask)), rows);
  return tf.add(policy, tf.mul(cloning, weight)) as tf.Scalar;
}

/** Runs Algorithm 1 lines 9–14 on `batch` (line 9, the sampling, is the caller's). */
export function trainStep(nets: DeepChainNetworks, optimizers: Optimizers, embeddings: Float32Array, batch: ReplayBatch): TrainStepResult {
  const { config, layout } = nets;
  const N = batch.historyLength;
  if (N !== config.historyLength) throw new Error(`batch history length ${N} differs from the model's ${config.historyLength}`);
  const S = layout.scenarios.length;
  const J = layout.maxBehaviours;
  const E = config.embeddingSize;
  const shared = nets.online.actors.length === 1;
  flopMeter.take();

  // Rows in scenario order, so that each actor's rows are contiguous (one encoder pass per actor).
  const order = Array.from({ length: batch.size }, (_, i) => i).sort((a, b) => batch.scenarios[a]! - batch.scenarios[b]! || a - b);
  const B = order.length;

  // Line 11, host side: the slots of Eq. 1 per row and the distinct next states they bootstrap from.
  const slots: Eq1Slots[] = order.map((i) =>
    eq1Slots(config.target, layout, config.rewards, config.gamma, {
      scenario: batch.scenarios[i]!,
      behaviour: batch.behaviours[i]!,
      reward: batch.rewards[i]!,
      nextScenario: batch.nextScenarios[i]!,
    }),
  );
  const targetKey = new Map<string, number>();
  const targetRows: { row: number; appended: boolean; scenario: number }[] = [];
  const slotRef = new Int32Array(B * J);
  slots.forEach((s, r) =>
    s.next.forEach((ref, j) => {
      if (ref === null) {
        slotRef[r * J + j] = -1;
        return;
      }
      const key = `${r}:${ref.appended ? 1 : 0}:${ref.scenario}`;
      let k = targetKey.get(key);
      if (k === undefined) {
        k = targetRows.length;
        targetKey.set(key, k);
        targetRows.push({ row: order[r]!, appended: ref.appended, scenario: ref.scenario });
      }
      slotRef[r * J + j] = k;
    }),
  );
  // Target rows sorted by next scenario: the target actors' segments are then contiguous.
  const tOrder = targetRows.map((_, k) => k).sort((a, b) => targetRows[a]!.scenario - targetRows[b]!.scenario || a - b);
  const tRank = new Int32Array(targetRows.length);
  tOrder.forEach((k, rank) => (tRank[k] = rank));
  const T = targetRows.length;
  for (let i = 0; i < slotRef.length; i++) slotRef[i] = slotRef[i]! < 0 ? T : tRank[slotRef[i]!]!;
  const sortedTargets = tOrder.map((k) => targetRows[k]!);

  // Line 11, device side: q_j = Q'(s'_j, π'_{n_j}(s'_j), n_j), forward only with the target networks.
  const qNext = tf.tidy(() => {
    if (T === 0) return tf.zeros([B, J]) as tf.Tensor2D;
    const seq = sequences(batch, sortedTargets);
    const nextScen = sortedTargets.map((t) => t.scenario);
    const x = gatherRows(embeddings, E, seq.ids);
    const acts = actorInputs(embeddings, seq, shared ? nextScen.map(() => 0) : nextScen, N, E);
    const nextOneHot = oneHot(nextScen, S);
    const pC = encodeWithoutGradient(nets.target.critic.encoder, { x, rows: T, lengths: seq.lengths, heads: nextScen }, N);
    const a = tf.concat(
      acts.map(({ key, input }) => actorHead(actorOf(nets.target, key), encodeWithoutGradient(actorOf(nets.target, key).encoder, input, N))),
      0,
    ) as tf.Tensor2D;
    const q = criticValue(nets.target.critic, pC, a, nextOneHot);
    const qHost = q.dataSync();
    return tf.tensor2d(Float32Array.from(slotRef, (k) => (k < T ? qHost[k]! : 0)), [B, J]);
  });

  const stats = { probabilityLoss: 0, criticLoss: 0, actorLoss: 0, meanTarget: 0 };
  const onlineVars = [...nets.store.variables].filter(([n]) => !n.startsWith(TARGET_PREFIX)).map(([, v]) => v);
  const grads = tf.tidy(() => {
    const rows = order.map((row) => ({ row, appended: false }));
    const seq = sequences(batch, rows);
    const x = gatherRows(embeddings, E, seq.ids);
    const scen = order.map((i) => batch.scenarios[i]!);
    const scenOneHot = oneHot(scen, S);
    const behaviourOneHot = oneHot(order.map((i) => batch.behaviours[i]!), J);
    const action = embeddingRows(embeddings, E, order.map((i) => batch.actions[i]!));
    const slotBias = behaviourSlotBias(layout);
    const flat = (f: (s: Eq1Slots) => Float32Array) => {
      const v = new Float32Array(B * J);
      slots.forEach((s, r) => v.set(f(s), r * J));
      return tf.tensor2d(v, [B, J]);
    };
    const rewardTerm = flat((s) => s.rewardTerm);
    const discount = flat((s) => s.discount);
    const fixedWeight = flat((s) => s.fixedWeight);
    const usesProbabilities = config.target !== 'model-free';
    const acts = actorInputs(embeddings, seq, shared ? scen.map(() => 0) : scen, N, E);
    const cloneMask = tf.tensor1d(order.map((i) => (appends(layout, batch.scenarios[i]!, batch.behaviours[i]!) && batch.actions[i]! !== PAD_INDEX ? 1 : 0)));
    const history = { x, rows: B, lengths: seq.lengths, heads: scen };
    // Eq. 4 evaluates the critic with its weights held fixed: constant copies, made outside the tape.
    const frozenHead = nets.online.critic.head.layers.map((l) => ({ w: tf.clone(l.w), b: tf.clone(l.b) }));

    const { value, grads } = tf.variableGrads(() => {
      // Line 10 (§3.4.1): cross-entropy against the one-hot logged behaviour.
      const pP = encode(nets.probabilityNet.encoder, history, N);
      const logp = behaviourLogProbs(nets.probabilityNet, pP, scenOneHot, action, slotBias);
      const probabilityLoss = tf.neg(tf.mean(tf.sum(tf.mul(behaviourOneHot, logp), 1)));
      // Line 11: Eq. 1 with p fixed.
      const weights = usesProbabilities ? stopGradient(tf.exp(logp)) : fixedWeight;
      const y = eq1TargetTensor(weights as tf.Tensor2D, qNext, rewardTerm, discount);
      // Line 12 (Eq. 2): (y − Q(s, a))² with the logged action's embedding.
      const pC = encode(nets.online.critic.encoder, history, N);
      const criticLoss = tf.mean(tf.square(tf.sub(y, criticValue(nets.online.critic, pC, action, scenOneHot))));
      // Line 13 (Eq. 4): ∇_a Q(s, a)|_{a=π(s)} ∇_π π(s), as the gradient of −Q(s, π(s)).
      const proto = tf.concat(
        acts.map(({ key, input }) => actorHead(actorOf(nets.online, key), encode(actorOf(nets.online, key).encoder, input, N))),
        0,
      ) as tf.Tensor2D;
      const qPi = criticValue(nets.online.critic, stopGradient(pC), proto, scenOneHot, frozenHead);
      const actorLoss = config.cloning > 0 ? cloningActorLoss(qPi, proto, action, cloneMask, config.cloning) : tf.neg(tf.mean(qPi));
      const [pl, cl, al, my] = [probabilityLoss, criticLoss, actorLoss, tf.mean(y)].map((t) => t.dataSync()[0]!);
      Object.assign(stats, { probabilityLoss: pl, criticLoss: cl, actorLoss: al, meanTarget: my });
      return tf.add(probabilityLoss, tf.add(criticLoss, actorLoss)) as tf.Scalar;
    }, onlineVars);
    value.dispose();
    return grads;
  });
  qNext.dispose();

  // Lines 10, 12, 13: one optimiser per network (their learning rates differ).
  const variables = (prefix: string) => [...nets.store.variables].filter(([name]) => name.startsWith(prefix));
  optimizers.probability.applyGradients(variables('probability.'), grads);
  optimizers.critic.applyGradients(variables('critic.'), grads);
  optimizers.actor.applyGradients(variables('actor.'), grads);
  tf.dispose(grads);
  // Line 14.
  softUpdateTargets(nets, config.tau);
  return { ...stats, flops: flopMeter.take() };
}
