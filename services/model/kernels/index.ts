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
