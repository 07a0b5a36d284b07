/**
 * Adam (Kingma & Ba 2015), the optimiser of Algorithm 1 lines 10, 12 and 13, with TensorFlow.js's update
 * rule and defaults (tf.train.adam: β1 0.9, β2 0.999, ε 1e-7, the float32 backend's epsilon):
 *
 *   m ← β1·m + (1 − β1)·g     v ← β2·v + (1 − β2)·g²     θ ← θ − lr · (m / (1 − β1ᵗ)) / (√(v / (1 − β2ᵗ)) + ε)
 *
 * Why not tf.train.adam itself: on the WASM backend it dispatches 13 ops per variable and step, ~900 for
 * a training step's ~70 variables, ≈ 7 ms of a ≈ 75 ms step (issue 8). Here a variable costs one read of
 * its gradient and value and one upload; the moments stay on the host, keyed by the variables' names in
 * the model (params.ts), so a checkpoint restores them by name. test/unit/model-adam checks it against
 * tf.train.adam.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedTensor } from './weights-format.js';

const ITERATIONS = 'iterations';

export class Adam {
  private iterations = 0;
  private readonly moments = new Map<string, { m: Float32Array; v: Float32Array }>();

  constructor(
    readonly learningRate: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly epsilon = 1e-7,
  ) {}

  /** One update of each variable (model name → variable) that has a gradient in `grads` (keyed by TF.js name). */
  applyGradients(variables: Iterable<readonly [string, tf.Variable]>, grads: tf.NamedTensorMap): void {
    this.iterations++;
    const { beta1, beta2, epsilon } = this;
    const correction1 = 1 - beta1 ** this.iterations;
    const correction2 = 1 - beta2 ** this.iterations;
    const rate = this.learningRate;
    for (const [name, variable] of variables) {
      const gradient = grads[variable.name];
      if (gradient === undefined) continue;
      const g = gradient.dataSync() as Float32Array;
      const theta = Float32Array.from(variable.dataSync() as Float32Array);
      let moment = this.moments.get(name);
      if (moment === undefined) {
        moment = { m: new Float32Array(g.length), v: new Float32Array(g.length) };
        this.moments.set(name, moment);
      }
      const { m, v } = moment;
      for (let i = 0; i < g.length; i++) {
        const gi = g[i]!;
        m[i] = beta1 * m[i]! + (1 - beta1) * gi;
        v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
        theta[i] = theta[i]! - (rate * (m[i]! / correction1)) / (Math.sqrt(v[i]! / correction2) + epsilon);
      }
      tf.tidy(() => variable.assign(tf.tensor(theta, variable.shape)));
    }
  }

  /** The step count and both moments of every variable, for a checkpoint. */
  state(): NamedTensor[] {
    const out: NamedTensor[] = [{ name: ITERATIONS, shape: [], values: Float32Array.of(this.iterations) }];
    for (const [name, { m, v }] of this.moments) {
      out.push({ name: `${name}/m`, shape: [m.length], values: Float32Array.from(m) });
      out.push({ name: `${name}/v`, shape: [v.length], values: Float32Array.from(v) });
    }
    return out;
  }

  /** Restores state(); an entry it does not recognise is an error that names it. */
  loadState(tensors: readonly NamedTensor[]): void {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    let iterations: number | null = null;
    for (const t of tensors) {
      if (t.name === ITERATIONS) iterations = t.values[0]!;
      else if (t.name.endsWith('/m')) m.set(t.name.slice(0, -2), Float32Array.from(t.values));
      else if (t.name.endsWith('/v')) v.set(t.name.slice(0, -2), Float32Array.from(t.values));
      else throw new Error(`optimiser state entry '${t.name}' is neither '${ITERATIONS}' nor a moment ('<variable>/m', '<variable>/v')`);
    }
    if (iterations === null) throw new Error(`optimiser state has no '${ITERATIONS}' entry`);
    for (const name of new Set([...m.keys(), ...v.keys()])) {
      if (!m.has(name) || !v.has(name)) throw new Error(`optimiser state for '${name}' holds only one of its two moments`);
    }
    this.iterations = iterations;
    this.moments.clear();
    for (const [name, first] of m) this.moments.set(name, { m: first, v: v.get(name)! });
  }
}
