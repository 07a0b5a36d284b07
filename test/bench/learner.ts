/**
 * `npm run bench -- learner [--backend wasm|cpu|auto] [--steps 20] [--warmup 3] [--items 5000]`
 *
 * Full training steps of Algorithm 1 (services/model/train-step.ts) at B = 64, N = 50 with the paper's
 * sizes, and the same backend's large-matmul throughput (1024³) measured in the same run as the limit.
 * model_gflops_per_s counts only the matrix products the step performs, from their shapes
 * (services/model/flops.ts). bytes_per_transition is the replay buffer's typed-array bytes at a capacity of
 * 1M divided by 1M (the buffer allocates its whole capacity up front); replay_array_buffer_bytes_per_transition
 * is the growth of process.memoryUsage().arrayBuffers when that buffer is allocated and filled, per transition.
 */
import * as tf from '@tensorflow/tfjs';
import { createDeepChain, ReplayBuffer, seededRandom as seededRandomForBench, selectBackend, type BackendChoice } from '../../services/model/index.js';

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

function matmulPeak(): number {
  const n = 1024;
  const a = tf.randomNormal([n, n]) as tf.Tensor2D;
  const b = tf.randomNormal([n, n]) as tf.Tensor2D;
  tf.matMul(a, b).dispose();
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    best = Math.min(best, performance.now() - t0);
    c.dispose();
  }
  tf.dispose([a, b]);
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

function replayMemory(): { bytesPerTransition: number; arrayBufferBytesPerTransition: number } {
  const capacity = 1_000_000;
  const N = 50;
  const before = process.memoryUsage().arrayBuffers;
  const buffer = new ReplayBuffer(capacity, N);
  const state = Array.from({ length: N }, (_, i) => i + 1);
  for (let i = 0; i < capacity; i++) buffer.add({ state, action: i % 1000, scenario: i % 2, behaviour: i % 3, reward: 0, nextScenario: 0 });
  const after = process.memoryUsage().arrayBuffers;
  return { bytesPerTransition: buffer.byteLength / capacity, arrayBufferBytesPerTransition: (after - before) / capacity };
}

export default async function learner(args: string[]): Promise<object> {
  const backendChoice = arg(args, 'backend', 'wasm') as BackendChoice;
  const steps = Number(arg(args, 'steps', '20'));
  const warmup = Number(arg(args, 'warmup', '3'));
  const items = Number(arg(args, 'items', '5000'));
  const batch = 64;
  // Measured first, before the model allocates anything, so other allocations do not blur the delta.
  const memory = replayMemory();
  const backend = await selectBackend({ prefer: backendChoice, onLog: (msg, f) => console.error(msg, JSON.stringify(f)) });
  const peak = matmulPeak();
  console.error(`matmul 1024³: ${peak.toFixed(2)} GFLOP/s on ${backend.name}`);

  const model = createDeepChain({});
  const N = model.config.historyLength;
  const random = seededRandomForBench(7);
  const E = model.config.embeddingSize;
  model.setItemEmbeddings(Float32Array.from({ length: (items + 1) * E }, () => random() - 0.5));
  const buffer = new ReplayBuffer(20_000, N);
  for (let i = 0; i < 20_000; i++) {
    const scenario = random() < 0.5 ? 0 : 1;
    const behaviour = Math.floor(random() * 3);
    const state = Array.from({ length: N }, () => 1 + Math.floor(random() * items));
    const b = model.layout.behaviours[scenario]![behaviour]!;
    const next = model.layout.next[scenario]![behaviour]!;
    buffer.add({ state, action: 1 + Math.floor(random() * items), scenario, behaviour, reward: model.config.rewards[b], nextScenario: next });
  }
  for (let i = 0; i < warmup; i++) model.trainStep(buffer.sample(batch, random));
  let flops = 0;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const r = model.trainStep(buffer.sample(batch, random));
    flops += r.flops;
    if (i % 5 === 0) console.error(`step ${i}: critic ${r.criticLoss.toFixed(4)} actor ${r.actorLoss.toFixed(4)} prob ${r.probabilityLoss.toFixed(4)}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  const modelGflops = flops / seconds / 1e9;
  return {
    bench: 'learner',
    backend: backend.name,
    batch,
    history: N,
    steps,
    transitions_per_s: Math.round((steps * batch) / seconds),
    ms_per_step: Number(((seconds * 1000) / steps).toFixed(1)),
    gflop_per_step: Number((flops / steps / 1e9).toFixed(3)),
    model_gflops_per_s: Number(modelGflops.toFixed(2)),
    matmul_peak_gflops_per_s: Number(peak.toFixed(2)),
    fraction_of_peak: Number((modelGflops / peak).toFixed(2)),
    bytes_per_transition: memory.bytesPerTransition,
    replay_array_buffer_bytes_per_transition: Number(memory.arrayBufferBytesPerTransition.toFixed(1)),
  };
}
