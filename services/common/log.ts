/**
 * JSON logs, and the one place secrets are kept out of logs and output files. Two layers:
 * - pino's `redact` replaces fields known to hold secrets (API keys, passwords, auth headers, the gateway's
 *   key list) wherever a log call puts them;
 * - every finished line goes through `scrubSecrets`, which blanks the password of any URL in it
 *   (`postgresql://user:…@host`), so one hidden in an error message, a cause or an error's `input` is gone
 *   too, plus any literal secret the service names (the gateway's producer keys).
 * Output files (the demo's summary.json) use `scrubSecretsIn` on what they write.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export const REDACTED = '[redacted]';

/**
 * scheme://user:PASSWORD@ in any text. The password runs to the last `@` before whitespace, `/`, `?`, `#`
 * or an unescaped `"` (a URL parser splits userinfo at the last `@` too), and may hold `\x` escapes, so a
 * log line (JSON) stays valid JSON after scrubbing.
 */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"\\]*):(?:[^\s/?#"\\]|\\.)*@/gi;

/** The text with the password of every URL in it replaced by `[redacted]` (user, host and path stay). */
export function scrubSecrets(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(URL_PASSWORD, `$1:${REDACTED}@`);
}

/** A copy of a plain value (settings, a summary) with `scrubSecrets` applied to every string in it. */
export function scrubSecretsIn<T>(value: T): T {
  if (typeof value === 'string') return scrubSecrets(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => scrubSecretsIn(v)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubSecretsIn(v)])) as T;
  }
  return value;
}

/** Fields whose whole value is a secret, wherever a log call puts them (pino redact paths, one level of nesting). */
const SECRET_FIELDS = ['apiKey', 'password', 'GATEWAY_API_KEYS'];
const SECRET_HEADERS = ['authorization', '["x-api-key"]', 'cookie'];
const REDACT_PATHS = [
  ...SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]),
  ...SECRET_HEADERS.flatMap((h) => {
    const at = h.startsWith('[') ? h : `.${h}`;
    return [`headers${at}`, `*.headers${at}`];
  }),
];

export interface LoggerOptions {
  /** Where lines go (default: stdout). */
  destination?: DestinationStream;
  /** Literal secrets (at least 8 characters) to blank wherever they appear in a line, e.g. the gateway's producer keys. */
  secrets?: readonly string[];
}

/** JSON logs on stdout. Secrets never reach a log line (see the top of this file). */
export function createLogger(service: string, level = 'info', options: LoggerOptions = {}): Logger {
  // Each secret as written and as it reads inside a JSON string (quotes and backslashes escaped).
  const literals = [...new Set((options.secrets ?? []).filter((s) => s.length >= 8).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))];
  const scrub = literals.length === 0
    ? scrubSecrets
    : (line: string) => {
      let out = scrubSecrets(line);
      for (const secret of literals) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
      return out;
    };
  const settings = {
    name: service,
    level,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    hooks: { streamWrite: scrub },
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}
