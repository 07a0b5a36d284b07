/**
 * The demo's command line (`npm run demo -- --help`), parsed and validated once into a frozen settings
 * object. Without --kafka the whole loop runs embedded in one process; with --kafka and --database-url it
 * runs the real services against real servers. The simulated world and walk take the same flags as
 * `deepchain eval online` and `deepchain simulate oracles` (services/cli/simulator-options.ts: --first-seed
 * picks the world, --items, --users, --clusters, --patience, --redundancy, …); the rewards are the
 * learner's (the paper's: click 1, skip 0, leave −2).
 */
import { Command, InvalidArgumentError } from 'commander';
import { addWorldAndWalkOptions, worldAndWalkSettings, type SimulatorFlags } from '../cli/simulator-options.js';
import { DEFAULT_GATE, type GateRules } from '../learner/validation.js';
import { DEFAULT_POPULATION, validateWalk, validateWorld, type WalkOptions, type WorldOptions } from '../simulator/index.js';

/** The demo's traffic lasts minutes, not hours: its release gate decides on fewer held-out pages than a deployment's. */
export const DEMO_GATE: GateRules = { ...DEFAULT_GATE, minPages: 300, minEffectiveSampleSize: 30 };

export interface DemoSettings {
  minutes: number;
  /** Seed of the simulated traffic and of the model (the world's is world.seed, --first-seed). */
  seed: number;
  out: string;
  world: WorldOptions;
  walk: WalkOptions;
  concurrency: number;
  k: number;
  thinkMs: number;
  /** ε of the serving nodes' ε-greedy exploration. */
  epsilon: number;
  /** Candidates the serving node recalls per request (nearest neighbours of the user's recent items). */
  recallSize: number;
  model: { embeddingSize: number; hiddenSize: number; historyLength: number; batchSize: number; actorLearningRate: number };
  /** Embedded: share of the wall clock given to training steps (the rest: users, sessionizer, serving). */
  trainShare: number;
  kafka: string[] | null;
  databaseUrl: string | null;
  schemaRegistryUrl: string;
  topicPrefix: string | null;
  /** Embedded: serve the live console (services/console) here while the demo runs; null: no console. */
  console: { host: string; port: number } | null;
}

const number = (what: string, check: (n: number) => boolean) => (raw: string) => {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || !check(n)) throw new InvalidArgumentError(`expected ${what}`);
  return n;
};
const positiveInt = number('a positive integer', (n) => Number.isInteger(n) && n > 0);
const positive = number('a positive number', (n) => n > 0);
const unit = number('a number from 0 to 1', (n) => n >= 0 && n <= 1);
const nonNegativeInt = number('an integer ≥ 0', (n) => Number.isInteger(n) && n >= 0);
const port = number('a port from 0 to 65535 (0: any free port)', (n) => Number.isInteger(n) && n >= 0 && n <= 65535);
/** The console's port when --console is given without one. */
export const DEFAULT_CONSOLE_PORT = 8095;

export function demoCommand(defaultSchemaRegistry: string): Command {
  const command = new Command('demo')
    .description('DeepChain end to end: simulated users, sessionizer, learner, registry and serving; reward per session as the agents learn')
    .option('--minutes <n>', 'how long simulated users browse', positive, 3)
    .option('--seed <n>', 'seed of the simulated traffic and the model (the world is --first-seed)', nonNegativeInt, 1)
    .option('--out <dir>', 'where the chart and the summary go', 'out/demo');
  return addWorldAndWalkOptions(command)
    .option('--concurrency <n>', 'sessions at once', positiveInt, DEFAULT_POPULATION.concurrency)
    .option('--k <n>', 'items per page', positiveInt, DEFAULT_POPULATION.k)
    .option('--think-ms <n>', 'pause per page', nonNegativeInt, DEFAULT_POPULATION.thinkMs)
    .option('--epsilon <x>', 'serving exploration ε (per slot)', unit, 0.1)
    .option('--recall-size <n>', 'serving: candidates recalled per request', positiveInt, 10)
    .option('--embedding-size <n>', 'E', positiveInt, 16)
    .option('--hidden-size <n>', 'H', positiveInt, 32)
    .option('--history-length <n>', 'N', positiveInt, 10)
    .option('--batch-size <n>', 'minibatch size', positiveInt, 32)
    .option('--actor-lr <x>', 'actor learning rate (the model library default)', positive, 1e-4)
    .option('--train-share <x>', 'embedded: share of time for training steps', unit, 0.4)
    .option('--kafka <brokers>', 'run against real servers: Kafka brokers (host:port,…)')
    .option('--database-url <url>', 'with --kafka: the Postgres registry database')
    .option('--schema-registry <url>', 'with --kafka: the Confluent-API schema registry', defaultSchemaRegistry)
    .option('--topic-prefix <prefix>', 'with --kafka: topic prefix (default: a fresh one per run, deleted afterwards)')
    .option('--console [port]', `embedded: serve the live console on 127.0.0.1 while the demo runs (port ${DEFAULT_CONSOLE_PORT}; 0: any free port)`, port)
    .showHelpAfterError();
}

export function settingsFrom(opts: Record<string, unknown>): DemoSettings {
  const kafka = typeof opts.kafka === 'string' ? opts.kafka.split(',').map((s) => s.trim()).filter(Boolean) : null;
  const databaseUrl = typeof opts.databaseUrl === 'string' ? opts.databaseUrl : null;
  if (kafka && !kafka.every((b) => /^[\w.-]+:\d{1,5}$/.test(b))) throw new InvalidArgumentError('--kafka expects host:port[,host:port…]');
  if ((kafka === null) !== (databaseUrl === null)) throw new InvalidArgumentError('--kafka and --database-url go together');
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new InvalidArgumentError('--database-url expects a postgres:// URL');
  const consolePort = opts.console === undefined ? null : opts.console === true ? DEFAULT_CONSOLE_PORT : (opts.console as number);
  if (consolePort !== null && kafka) {
    throw new InvalidArgumentError('--console runs beside the embedded demo; with --kafka, start the console service against the same database and the services\' /metrics (README "The console")');
  }
  const sim = worldAndWalkSettings(opts as SimulatorFlags);
  const world: WorldOptions = { ...sim.world, seed: sim.firstSeed };
  const walk: WalkOptions = sim.walk;
  try {
    validateWorld(world);
    validateWalk(walk);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  if ((opts.concurrency as number) > world.users) throw new InvalidArgumentError('--concurrency must not exceed --users');
  return Object.freeze({
    minutes: opts.minutes as number,
    seed: opts.seed as number,
    out: opts.out as string,
    world,
    walk,
    concurrency: opts.concurrency as number,
    k: opts.k as number,
    thinkMs: opts.thinkMs as number,
    epsilon: opts.epsilon as number,
    recallSize: opts.recallSize as number,
    model: {
      embeddingSize: opts.embeddingSize as number,
      hiddenSize: opts.hiddenSize as number,
      historyLength: opts.historyLength as number,
      batchSize: opts.batchSize as number,
      actorLearningRate: opts.actorLr as number,
    },
    trainShare: opts.trainShare as number,
    kafka,
    databaseUrl,
    schemaRegistryUrl: opts.schemaRegistry as string,
    topicPrefix: typeof opts.topicPrefix === 'string' ? opts.topicPrefix : null,
    console: consolePort === null ? null : { host: '127.0.0.1', port: consolePort },
  });
}

/** Throws commander's error (with `exitCode`) for bad arguments or --help, after writing it through `writeErr`. */
export function parseDemoArgs(
  argv: readonly string[],
  defaultSchemaRegistry: string,
  writeErr: (text: string) => void = (text) => process.stderr.write(text),
): DemoSettings {
  const cmd = demoCommand(defaultSchemaRegistry).exitOverride().configureOutput({ writeErr });
  cmd.parse([...argv], { from: 'user' });
  try {
    return settingsFrom(cmd.opts());
  } catch (err) {
    // Reported like commander's own errors (written, then thrown with an exit code).
    if (err instanceof InvalidArgumentError) cmd.error(`error: ${err.message}`, { exitCode: 2 });
    throw err;
  }
}
