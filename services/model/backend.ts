/**
 * Compute backend selection (DESIGN.md §2): @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node where
 * they install and load, otherwise WebAssembly, the plain JS backend last. Both native packages are
 * optional dependencies: their install downloads libtensorflow, which fails without internet, and then
 * their import throws here and the next choice is tried.
 */
import * as tf from '@tensorflow/tfjs';

export type BackendChoice = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendLog {
  (message: string, fields: Record<string, unknown>): void;
}

export interface SelectedBackend {
  /** tf.getBackend() after selection: 'tensorflow' for both native packages, 'wasm' or 'cpu'. */
  readonly name: string;
  /** The package that provides it. */
  readonly package: string;
  /** Why the choices before it were not taken. */
  readonly skipped: readonly { package: string; reason: string }[];
}

const NATIVE: readonly { choice: BackendChoice; pkg: string }[] = [
  { choice: 'tensorflow-gpu', pkg: '@tensorflow/tfjs-node-gpu' },
  { choice: 'tensorflow', pkg: '@tensorflow/tfjs-node' },
];

async function tryNative(pkg: string): Promise<void> {
  // A variable specifier keeps TypeScript from requiring the optional package's types.
  const spec: string = pkg;
  await import(spec);
  if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but the 'tensorflow' backend did not initialise`);
}

async function tryWasm(): Promise<void> {
  const spec: string = '@tensorflow/tfjs-backend-wasm';
  await import(spec);
  if (!(await tf.setBackend('wasm'))) throw new Error("the 'wasm' backend did not initialise");
}

/**
 * Selects and initialises the backend. `prefer: 'auto'` walks the order above; any other choice is forced
 * (and fails loudly if it cannot load, so a test or a bench never silently measures another backend).
 */
export async function selectBackend(options: { prefer?: BackendChoice; onLog?: BackendLog } = {}): Promise<SelectedBackend> {
  const prefer = options.prefer ?? 'auto';
  const skipped: { package: string; reason: string }[] = [];
  const done = (pkg: string): SelectedBackend => {
    const selected = Object.freeze({ name: tf.getBackend(), package: pkg, skipped: Object.freeze(skipped) });
    options.onLog?.('model backend selected', { backend: selected.name, package: pkg, skipped });
    return selected;
  };
  for (const { choice, pkg } of NATIVE) {
    if (prefer !== 'auto' && prefer !== choice) continue;
    try {
      await tryNative(pkg);
      return done(pkg);
    } catch (err) {
      if (prefer === choice) throw new Error(`backend ${choice} (${pkg}) could not be loaded: ${(err as Error).message}`);
      skipped.push({ package: pkg, reason: (err as Error).message.split('\n')[0] ?? '' });
    }
  }
  if (prefer === 'auto' || prefer === 'wasm') {
    try {
      await tryWasm();
      return done('@tensorflow/tfjs-backend-wasm');
    } catch (err) {
      if (prefer === 'wasm') throw new Error(`backend wasm could not be loaded: ${(err as Error).message}`);
      skipped.push({ package: '@tensorflow/tfjs-backend-wasm', reason: (err as Error).message.split('\n')[0] ?? '' });
    }
  }
  if (!(await tf.setBackend('cpu'))) throw new Error("the 'cpu' backend did not initialise");
  return done('@tensorflow/tfjs-backend-cpu');
}
