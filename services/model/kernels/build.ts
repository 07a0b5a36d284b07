/**
 * `npm run build:kernels` (npm ci runs it as `prepare`): compiles the AssemblyScript kernels in
 * ./assembly to WebAssembly with SIMD, into dist/kernels/. A kernel whose source, compiler and flags are
 * unchanged since its last build is skipped; index.ts refuses to load one that is out of date.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ASC_FLAGS, KERNEL_SOURCE_DIR, kernelPaths, kernelStamp, readStamp } from './paths.js';

const names = readdirSync(KERNEL_SOURCE_DIR).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
for (const name of names) {
  const paths = kernelPaths(name);
  const stamp = kernelStamp(name);
  if (readStamp(name) === stamp) {
    console.error(`[kernels] ${name}: up to date`);
    continue;
  }
  mkdirSync(paths.dir, { recursive: true });
  // Loaded only when something is to be built: the compiler takes a second to load.
  const { default: asc } = await import('assemblyscript/asc');
  const { error, stderr } = await asc.main([join(KERNEL_SOURCE_DIR, `${name}.ts`), ...ASC_FLAGS, '--outFile', paths.wasm]);
  if (error) {
    console.error(stderr.toString());
    console.error(`[kernels] ${name}: compilation failed: ${error.message}`);
    process.exit(1);
  }
  writeFileSync(paths.stamp, stamp);
  console.error(`[kernels] ${name}: built ${paths.wasm}`);
}
