/**
 * `npm run bench -- NAME [args…]` and `npm run chaos -- NAME [args…]`: runs test/<kind>/NAME.ts, whose
 * default export takes the remaining arguments and resolves to one result object, printed as one JSON
 * line on stdout (progress goes to stderr).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [kind, name, ...args] = process.argv.slice(2);
if (kind !== 'bench' && kind !== 'chaos') throw new Error(`unknown kind '${kind}': bench or chaos`);
const dir = join(dirname(fileURLToPath(import.meta.url)), kind);
const available = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run ${kind} -- <${available.join('|')}> [args…]`);
  process.exit(2);
}
const run = (await import(join(dir, `${name}.ts`))) as { default: (args: string[]) => Promise<object> };
console.log(JSON.stringify(await run.default(args)));
process.exit(0);
