/** `deepchain models …` and `deepchain deployments`: the registry for operators (tables, or --json). */
import type { Command } from 'commander';
import {
  AvroSerde, createKafka, createLogger, createPool, createProducer, createSchemaRegistry, DATABASE_ENV, KAFKA_ENV,
  loadConfig, topicNames, withSession, type SqlSession,
} from '../common/index.js';
import {
  announceEffective, currentDeployments, diffVersions, getVersionSummary, listModels, listVersions, pin, rollback, unpin,
} from '../registry/index.js';

interface OutputOptions { json?: boolean }

function print(rows: object | object[], options: OutputOptions): void {
  if (options.json) console.log(JSON.stringify(rows, null, 2));
  else if (Array.isArray(rows)) rows.length ? console.table(rows) : console.log('(none)');
  else console.table(rows);
}

async function withDatabase<T>(fn: (db: SqlSession) => Promise<T>): Promise<T> {
  const pool = createPool(loadConfig(DATABASE_ENV).DATABASE_URL, 1);
  try {
    return await withSession(pool, fn);
  } finally {
    await pool.end();
  }
}

/** Tells every serving node (through the `models` topic) which version to run after a registry change. */
async function announceChange(db: SqlSession, model: string): Promise<string> {
  const config = loadConfig(KAFKA_ENV);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'deepchain-cli', logger: createLogger('cli', 'error') });
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    const topics = topicNames(config.TOPIC_PREFIX);
    const serde = new AvroSerde(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topics);
    await serde.registerAll(['models']);
    const a = await announceEffective(db, producer, serde, topics, model);
    return a ? `announced version ${a.version}${a.pinned ? ' (pinned)' : ''} on ${topics.models}` : 'nothing to announce';
  } finally {
    await producer.disconnect();
  }
}

function positiveInt(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
    return n;
  };
}

export function addModelCommands(program: Command): void {
  const models = program.command('models').description('model versions in the registry');
  const json = ['--json', 'print JSON instead of a table'] as const;

  models
    .command('list')
    .argument('[model]', 'list this model\'s versions (newest first); without it, list the models')
    .option(...json)
    .option('--limit <n>', 'at most this many versions', positiveInt('--limit'), 50)
    .action(async (model: string | undefined, o: OutputOptions & { limit: number }) =>
      withDatabase(async (db) => {
        if (!model) return print(await listModels(db), o);
        const rows = await listVersions(db, model, o.limit);
        print(o.json ? rows : rows.map((v) => ({
          version: v.version, status: v.status, parent: v.parentVersion, created: v.createdAt.toISOString(),
          steps: v.trainSteps, transitions: v.transitionsSeen, size: v.sizeBytes, checksum: v.checksum.slice(0, 12),
          weights: v.weightsPrunedAt ? 'pruned' : 'kept',
        })), o);
      }));

  models
    .command('show')
    .argument('<model>').argument('<version>', 'version number', positiveInt('version'))
    .option(...json)
    .action(async (model: string, version: number, o: OutputOptions) =>
      withDatabase(async (db) => {
        const v = await getVersionSummary(db, model, version);
        if (!v) throw new Error(`model '${model}' has no version ${version}`);
        print(v, o);
      }));

  models
    .command('diff')
    .argument('<model>').argument('<from>', 'version', positiveInt('from')).argument('<to>', 'version', positiveInt('to'))
    .option(...json)
    .action(async (model: string, from: number, to: number, o: OutputOptions) =>
      withDatabase(async (db) => {
        const d = await diffVersions(db, model, from, to);
        if (o.json) return print(d, o);
        console.log(`${model} ${from} → ${to}: +${d.trainSteps} steps, +${d.transitionsSeen} transitions, weights ${d.sameWeights ? 'identical' : 'differ'}`);
        print(d.metrics, o);
        print(d.offsets, o);
      }));

  models
    .command('pin')
    .description('serve this version on every node until unpinned')
    .argument('<model>').argument('<version>', 'version number', positiveInt('version'))
    .action(async (model: string, version: number) =>
      withDatabase(async (db) => {
        await pin(db, model, version);
        console.log(`pinned ${model} to version ${version}; ${await announceChange(db, model)}`);
      }));

  models
    .command('unpin')
    .description('serve the live version again')
    .argument('<model>')
    .action(async (model: string) =>
      withDatabase(async (db) => {
        await unpin(db, model);
        console.log(`unpinned ${model}; ${await announceChange(db, model)}`);
      }));

  models
    .command('rollback')
    .description('retire the live version and make the previous one live')
    .argument('<model>')
    .action(async (model: string) =>
      withDatabase(async (db) => {
        const { from, to } = await rollback(db, model);
        console.log(`rolled ${model} back from ${from} to ${to}; ${await announceChange(db, model)}`);
      }));

  program
    .command('deployments')
    .description('which version each serving node runs')
    .option(...json)
    .action(async (o: OutputOptions) =>
      withDatabase(async (db) => {
        const rows = await currentDeployments(db);
        print(o.json ? rows : rows.map((d) => ({ node: d.servingNode, model: d.model, version: d.version, loaded: d.loadedAt.toISOString() })), o);
      }));
}
