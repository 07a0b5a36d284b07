/** Where the WebAssembly kernels' sources and builds live, and the stamp that ties a build to its source. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const KERNEL_SOURCE_DIR = join(here, 'assembly');
const BUILD_DIR = join(here, '..', '..', '..', 'dist', 'kernels');

/** Optimised, SIMD on, the minimal runtime (the kernels allocate nothing), memory given by the caller. */
export const ASC_FLAGS = ['-O3', '--enable', 'simd', '--runtime', 'stub', '--noAssert', '--importMemory'] as const;

export function kernelPaths(name: string): { dir: string; wasm: string; stamp: string } {
  return { dir: BUILD_DIR, wasm: join(BUILD_DIR, `${name}.wasm`), stamp: join(BUILD_DIR, `${name}.stamp`) };
}

function compilerVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('assemblyscript/package.json') as { version: string }).version;
}

/** sha-256 of the kernel's source, the compiler version and the flags. */
export function kernelStamp(name: string): string {
  return createHash('sha256')
    .update(readFileSync(join(KERNEL_SOURCE_DIR, `${name}.ts`)))
    .update(`\0${compilerVersion()}\0${ASC_FLAGS.join(' ')}`)
    .digest('hex');
}

export function readStamp(name: string): string | null {
  const { stamp } = kernelPaths(name);
  return existsSync(stamp) ? readFileSync(stamp, 'utf8') : null;
}
