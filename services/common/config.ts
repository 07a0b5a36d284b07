/**
 * Typed configuration from environment variables. Each service declares its variables once as a spec;
 * `loadConfig` validates all of them and returns a frozen object, or throws one error that names every
 * bad or missing variable and what it expects. `process.env` is read nowhere else.
 */
import { DeepChainError } from './errors.js';

export interface Field<T> {
  /** What the variable expects, for error messages and `--help`. */
  readonly expects: string;
  readonly defaultValue: T | undefined;
  parse(raw: string): T;
}

type Spec = Record<string, Field<unknown>>;
export type ConfigOf<S extends Spec> = { readonly [K in keyof S]: S[K] extends Field<infer T> ? T : never };

function field<T>(expects: string, parse: (raw: string) => T, defaultValue?: T): Field<T> {
  return { expects, parse, defaultValue };
}

function fail(expects: string): never {
  throw new Error(`expected ${expects}`);
}

export const env = {
  string: (defaultValue?: string) =>
    field('a non-empty string', (raw) => (raw.trim() === '' ? fail('a non-empty string') : raw), defaultValue),
  int: (opts: { min?: number; max?: number; default?: number } = {}) => {
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = opts;
    const expects = `an integer from ${min} to ${max}`;
    return field(expects, (raw) => {
      const n = Number(raw);
      return /^-?\d+$/.test(raw.trim()) && n >= min && n <= max ? n : fail(expects);
    }, opts.default);
  },
  number: (opts: { min?: number; max?: number; default?: number } = {}) => {
    const { min = -Infinity, max = Infinity } = opts;
    const expects = `a number from ${min} to ${max}`;
    return field(expects, (raw) => {
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) && n >= min && n <= max ? n : fail(expects);
    }, opts.default);
  },
  bool: (defaultValue?: boolean) =>
    field('true or false', (raw) => {
      const v = raw.trim().toLowerCase();
      return v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : fail('true or false');
    }, defaultValue),
  oneOf: <const T extends string>(values: readonly T[], defaultValue?: T) => {
    const expects = `one of ${values.join(', ')}`;
    return field(expects, (raw) => ((values as readonly string[]).includes(raw) ? (raw as T) : fail(expects)), defaultValue);
  },
  url: (protocols: readonly string[], defaultValue?: string) => {
    const expects = `a URL (${protocols.join(', ')})`;
    return field(expects, (raw) => {
      let url: URL;
      try { url = new URL(raw); } catch { return fail(expects); }
      return protocols.includes(url.protocol.replace(/:$/, '')) ? raw : fail(expects);
    }, defaultValue);
  },
  /** A string matching `pattern`; `expects` says in words what that is. Empty is allowed when the default is. */
  matching: (pattern: RegExp, expects: string, defaultValue?: string) =>
    field(expects, (raw) => (pattern.test(raw) ? raw : fail(expects)), defaultValue),
  /** Comma-separated `host:port` list, e.g. Kafka brokers. */
  hostPorts: (defaultValue?: string[]) => {
    const expects = 'a comma-separated list of host:port';
    return field(expects, (raw) => {
      const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
      return items.length > 0 && items.every((s) => /^[\w.-]+:\d{1,5}$/.test(s)) ? items : fail(expects);
    }, defaultValue);
  },
  /** Comma-separated `name=value` pairs, e.g. API keys per producer. */
  pairs: (defaultValue?: Record<string, string>) => {
    const expects = 'comma-separated name=value pairs';
    return field(expects, (raw) => {
      const out: Record<string, string> = {};
      for (const part of raw.split(',').map((s) => s.trim()).filter(Boolean)) {
        const eq = part.indexOf('=');
        if (eq <= 0 || eq === part.length - 1) fail(expects);
        out[part.slice(0, eq)] = part.slice(eq + 1);
      }
      return out;
    }, defaultValue);
  },
};

/** Validates every variable of `spec` against `source` (default: process.env). */
export function loadConfig<S extends Spec>(spec: S, source: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, f] of Object.entries(spec)) {
    const raw = source[name];
    if (raw === undefined || raw === '') {
      if (f.defaultValue === undefined) problems.push(`${name} is missing: expected ${f.expects}`);
      else out[name] = f.defaultValue;
      continue;
    }
    try {
      out[name] = f.parse(raw);
    } catch (err) {
      // Values can be secrets (API keys, passwords in URLs): name the variable, never echo its value.
      problems.push(`${name} is invalid: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new DeepChainError('CONFIG_INVALID', problems.join('; '));
  return Object.freeze(out) as ConfigOf<S>;
}

/** Lines for `--help`: each variable, what it expects and its default. */
export function describeConfig(spec: Spec): string[] {
  return Object.entries(spec).map(([name, f]) => {
    const d = f.defaultValue === undefined ? 'required' : `default ${JSON.stringify(f.defaultValue)}`;
    return `${name}: ${f.expects} (${d})`;
  });
}
