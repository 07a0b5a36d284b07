/** The console service's environment variables (a real deployment), validated once at start into a frozen object. */
import { DATABASE_ENV, DeepChainError, env, loadConfig, SERVICE_ENV, type ConfigOf } from '../common/index.js';

export const CONSOLE_ENV = {
  ...DATABASE_ENV,
  ...SERVICE_ENV,
  HTTP_PORT: env.int({ min: 0, max: 65535, default: 8095 }),
  /** The model whose versions the console shows (the learner's MODEL_NAME). */
  MODEL_NAME: env.matching(/^[A-Za-z0-9._-]{1,100}$/, 'a model name (letters, digits, ".", "_" or "-")', 'deepchain'),
  /**
   * The services' /metrics URLs as name=url pairs, e.g.
   * learner=http://learner:8083/metrics,sessionizer-0=http://sessionizer-0:8082/metrics,serving-a=http://10.0.0.7:8090/metrics.
   * The names are labels; each scrape is recognised by the metrics it holds.
   */
  CONSOLE_METRICS_URLS: env.pairs({}),
  /** How often the page is sent a new view (and the URLs and the registry are read). */
  CONSOLE_REFRESH_MS: env.int({ min: 200, max: 600_000, default: 5_000 }),
};

export type ConsoleConfig = ConfigOf<typeof CONSOLE_ENV>;

export function loadConsoleConfig(source?: NodeJS.ProcessEnv): ConsoleConfig {
  const config = loadConfig(CONSOLE_ENV, source);
  const bad = Object.entries(config.CONSOLE_METRICS_URLS).filter(([, url]) => !/^https?:\/\/[^\s/]+/.test(url)).map(([name]) => name);
  if (bad.length) throw new DeepChainError('CONFIG_INVALID', `CONSOLE_METRICS_URLS is invalid: expected http(s) URLs, not for ${bad.join(', ')}`);
  return config;
}
