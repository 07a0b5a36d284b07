/**
 * Named trainable variables and their initialisation. Every network registers its variables under a
 * dotted name ('actor.entrance.gru.ur'), which is also their name in the weights format, so a checkpoint,
 * a soft update and an optimiser all address the same variable the same way.
 */
import * as tf from '@tensorflow/tfjs';

/** A config's seed fixes every initial weight. */
import { seededRandom } from '../common/random.js';

export { seededRandom };

let variableCount = 0;

export class ParamStore {
  readonly variables = new Map<string, tf.Variable>();
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = seededRandom(seed);
  }

  /** Glorot-uniform matrix (Glorot & Bengio 2010), the Keras default for dense and recurrent kernels. */
  glorot(name: string, shape: [number, number]): tf.Variable {
    const limit = Math.sqrt(6 / (shape[0] + shape[1]));
    const values = Float32Array.from({ length: shape[0] * shape[1] }, () => (this.random() * 2 - 1) * limit);
    return this.register(name, tf.tensor2d(values, shape));
  }

  zeros(name: string, shape: number[]): tf.Variable {
    return this.register(name, tf.zeros(shape));
  }

  register(name: string, initial: tf.Tensor): tf.Variable {
    if (this.variables.has(name)) throw new Error(`variable '${name}' registered twice`);
    // TF.js names must be unique per process: two models (a hot swap, a live copy for comparison) coexist.
    const v = tf.variable(initial, true, `${name}#${Math.floor(this.random() * 1e9)}.${++variableCount}`);
    initial.dispose();
    this.variables.set(name, v);
    return v;
  }

  /** Variables whose name starts with `prefix`, in registration order. */
  under(prefix: string): tf.Variable[] {
    return [...this.variables].filter(([n]) => n.startsWith(prefix)).map(([, v]) => v);
  }

  get(name: string): tf.Variable {
    const v = this.variables.get(name);
    if (!v) throw new Error(`no variable '${name}'`);
    return v;
  }
}
