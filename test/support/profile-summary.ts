/**
 * `node --import tsx test/support/profile-summary.ts FILE.cpuprofile [--top N]`: a V8 CPU profile (from
 * `node --cpu-prof` or the sessionizer bench's `--cpu-prof DIR`) summarised as self-time shares by category,
 * printed as one JSON line, so the figures in the README can be reproduced from the profile file.
 *
 * Attribution. Each sample's self time goes to the category of its innermost frame that belongs to a
 * package or to the repository: frames of V8 builtins, of code compiled at run time (avsc's generated
 * readers and writers have no URL) and of Node's own modules (`node:buffer`, `node:zlib`, …) are charged to
 * the nearest caller that does, so `Buffer.concat` called by kafkajs is kafkajs's; avsc's readers and writers
 * compiled at run time (no URL; `readRecommendation`, `writeTransition`, …) are avsc's by their names. What V8
 * inlined into a caller is the caller's (avsc's top-level reader inlined into wire.ts's decodeEvent counts as wire). What has no such caller (socket reads, timers) is `node_runtime`. V8's own pseudo-frames are kept
 * apart: `(garbage collector)` → `gc`, `(idle)` → `idle`, `(program)` → `program` (V8 and native work
 * outside JS). Categories:
 *   kafkajs.producer / .consumer / .protocol (request/response encoding, record batches, compression codecs
 *   under protocol/) / .network / .other; avsc; product.<file> for services/sessionizer/*.ts and
 *   product.common for services/common; bench (test/); other_packages.<name>; node_runtime; gc; idle; program.
 * `shares` are of all samples (idle included); `busy_shares` exclude idle; `groups` add them up into
 * kafkajs, ours (product + avsc) and the rest. `top` lists the N hottest functions by self time.
 */
import { readFileSync } from 'node:fs';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** Node's own native functions (no URL either) whose names look like avsc's generated ones. */
const NODE_NATIVES = new Set(['writeBuffer', 'writeBuffers', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'writeUcs2String', 'readStart', 'readStop']);

/** The category of one frame, or null when it is charged to its caller. */
export function categoryOf(frame: CallFrame): string | null {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'gc';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'program';
  if (functionName === '(root)') return 'node_runtime';
  // avsc compiles a reader and writer per record type at run time (`new Function`): no URL, names like
  // readRecommendation, writeTransition, Branch$…
  if (!url && /^(read|write|skip|clone)[A-Z]|^Branch\$/.test(functionName) && !NODE_NATIVES.has(functionName)) return 'avsc';
  if (!url || url.startsWith('node:')) return null;
  const path = url.replace(/^file:\/\//, '');
  const pkg = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/);
  if (pkg) {
    const [, name, rest] = pkg;
    if (name === 'kafkajs') {
      const part = rest!.match(/^src\/(producer|consumer|protocol|network)\//)?.[1];
      return `kafkajs.${part ?? 'other'}`;
    }
    if (name === 'avsc') return 'avsc';
    return `other_packages.${name}`;
  }
  const sessionizer = path.match(/services\/sessionizer\/([^/]+)\.ts$/);
  if (sessionizer) return `product.${sessionizer[1]}`;
  if (/services\/common\//.test(path)) return 'product.common';
  if (/services\//.test(path)) return 'product.other';
  if (/\/test\//.test(path)) return 'bench';
  return 'other';
}

export interface ProfileSummary {
  file: string;
  seconds: number;
  samples: number;
  shares: Record<string, number>;
  busy_shares: Record<string, number>;
  groups: { kafkajs: number; ours: number; avsc: number; product: number; gc: number; node_runtime_and_program: number; idle: number; other: number };
  busy_seconds_by_group: Record<string, number>;
  top: { fn: string; where: string; category: string; share: number }[];
}

export function summarise(profile: CpuProfile, file = '', topN = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const categoryCache = new Map<number, string>();
  const categoryOfNode = (id: number): string => {
    const cached = categoryCache.get(id);
    if (cached !== undefined) return cached;
    const own = categoryOf(byId.get(id)!.callFrame);
    const p = parent.get(id);
    const c = own ?? (p === undefined ? 'node_runtime' : categoryOfNode(p));
    categoryCache.set(id, c);
    return c;
  };
  const micros = new Map<string, number>();
  const perFn = new Map<string, { us: number; category: string; where: string; fn: string }>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = Math.max(0, profile.timeDeltas[i + 1] ?? 0);
    const id = profile.samples[i]!;
    const c = categoryOfNode(id);
    micros.set(c, (micros.get(c) ?? 0) + dt);
    total += dt;
    const f = byId.get(id)!.callFrame;
    const where = `${f.url.replace(/^.*\/(node_modules\/|services\/|test\/)/, '$1')}:${f.lineNumber + 1}`;
    const key = `${f.functionName}@${where}`;
    const e = perFn.get(key) ?? { us: 0, category: c, where, fn: f.functionName || '(anonymous)' };
    e.us += dt;
    perFn.set(key, e);
  }
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  const sorted = [...micros.entries()].sort((a, b) => b[1] - a[1]);
  const shares = Object.fromEntries(sorted.map(([c, us]) => [c, r3(us / total)]));
  const idleUs = micros.get('idle') ?? 0;
  const busy = total - idleUs;
  const busy_shares = Object.fromEntries(sorted.filter(([c]) => c !== 'idle').map(([c, us]) => [c, r3(us / busy)]));
  const sum = (pred: (c: string) => boolean) => [...micros.entries()].filter(([c]) => pred(c)).reduce((s, [, us]) => s + us, 0);
  const g = {
    kafkajs: sum((c) => c.startsWith('kafkajs.')),
    avsc: sum((c) => c === 'avsc'),
    product: sum((c) => c.startsWith('product.')),
    gc: sum((c) => c === 'gc'),
    node_runtime_and_program: sum((c) => c === 'node_runtime' || c === 'program'),
    idle: idleUs,
  };
  const ours = g.avsc + g.product;
  const other = total - g.kafkajs - ours - g.gc - g.node_runtime_and_program - g.idle;
  return {
    file,
    seconds: r3(total / 1e6),
    samples: profile.samples.length,
    shares,
    busy_shares,
    groups: {
      kafkajs: r3(g.kafkajs / total), ours: r3(ours / total), avsc: r3(g.avsc / total), product: r3(g.product / total),
      gc: r3(g.gc / total), node_runtime_and_program: r3(g.node_runtime_and_program / total), idle: r3(g.idle / total), other: r3(other / total),
    },
    busy_seconds_by_group: {
      kafkajs: r3(g.kafkajs / 1e6), ours: r3(ours / 1e6), avsc: r3(g.avsc / 1e6), product: r3(g.product / 1e6), gc: r3(g.gc / 1e6),
      node_runtime_and_program: r3(g.node_runtime_and_program / 1e6), other: r3(other / 1e6),
    },
    top: [...perFn.values()].sort((a, b) => b.us - a.us).slice(0, topN)
      .map((e) => ({ fn: e.fn, where: e.where, category: e.category, share: r3(e.us / total) })),
  };
}

export function summariseFile(file: string, topN = 15): ProfileSummary {
  return summarise(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, file, topN);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node --import tsx test/support/profile-summary.ts FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const i = process.argv.indexOf('--top');
  process.stdout.write(`${JSON.stringify(summariseFile(file, i < 0 ? 15 : Number(process.argv[i + 1])))}\n`);
}
