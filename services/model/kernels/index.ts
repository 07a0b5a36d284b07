/**
 * Loads the WebAssembly kernels that build.ts compiled. Synchronous (the serving path is), once per
 * process per kernel; a kernel that is missing or older than its source is refused with the command that
 * builds it, so a stale build never runs.
 */
import { readFileSync } from 'node:fs';
import { kernelPaths, kernelStamp, readStamp } from './paths.js';

const modules = new Map<string, WebAssembly.Module>();

export function kernelModule(name: string): WebAssembly.Module {
  let module = modules.get(name);
  if (!module) {
    const built = readStamp(name);
    if (built === null || built !== kernelStamp(name)) {
      throw new Error(
        `WebAssembly kernel '${name}' is ${built === null ? 'not built' : 'older than its source'}: ` +
          'run `npm run build:kernels` (npm ci runs it)',
      );
    }
    module = new WebAssembly.Module(readFileSync(kernelPaths(name).wasm));
    modules.set(name, module);
  }
  return module;
}

/** Bytes per float32. */
export const F32 = 4;

export const roundUp = (n: number, multiple: number): number => Math.ceil(n / multiple) * multiple;

/**
 * One instance of a kernel with its own linear memory (the kernels import it and allocate nothing: the
 * caller places every buffer, as byte offsets above the module's static data).
 */
export class KernelInstance<Exports> {
  private readonly memory = new WebAssembly.Memory({ initial: 1 });
  readonly exports: Exports;
  /** Where the module's static data ends. */
  readonly heapBase: number;

  constructor(name: string) {
    const instance = new WebAssembly.Instance(kernelModule(name), {
      env: { memory: this.memory, abort: () => { throw new Error(`${name} kernel aborted`); } },
    });
    this.exports = instance.exports as Exports;
    this.heapBase = roundUp((instance.exports as { heapBase: () => number }).heapBase(), 16);
  }

  /**
   * Byte offsets of consecutive 16-byte-aligned blocks holding the given numbers of floats, from `start`
   * (default: the heap base), and where they end; the memory grows to hold them.
   */
  place<K extends string>(floats: Record<K, number>, start = this.heapBase): { at: Record<K, number>; end: number } {
    let end = start;
    const at = {} as Record<K, number>;
    for (const key of Object.keys(floats) as K[]) {
      at[key] = end;
      end += roundUp(Math.max(1, floats[key]) * F32, 16);
    }
    const missing = Math.ceil((end - this.memory.buffer.byteLength) / 65536);
    if (missing > 0) this.memory.grow(missing);
    return { at, end };
  }

  /** A view of the whole memory (made again after place(), which may have replaced the buffer). */
  floats(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }
}
