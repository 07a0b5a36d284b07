/**
 * `deepchain models …` and `deepchain deployments`: the registry for operators (tables, or --json). Each
 * change (promote, pin, unpin, rollback) is recorded in the audit trail with the operator (cliActor()) and
 * --reason, then announced on the `models` topic.
 */
import type { Command } from 'commander';
import {
  AvroSerde, createKafka, createLogger, createPool, createProducer, createSchemaRegistry, DATABASE_ENV, KAFKA_ENV,
  loadConfig, topicNames, withSession, type SqlSession,
} from '../common/index.js';
import {
  announceEffective, cliActor, currentDeployments, diffVersions, getVersionSummary, listChanges, listModels, listVersions,
  pin, promote, rollback, unpin, type ChangedBy, type VersionDecision,
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

/** The reason recorded when an operator gives none. */
export const DEFAULT_REASON = 'no reason given (--reason)';

const reasonOption = ['--reason <text>', 'why, for the audit trail (deepchain models history)', DEFAULT_REASON] as const;

function operator(o: { reason: string }): ChangedBy {
  return { actor: cliActor(), reason: o.reason };
}

/** The `decision` column of `models list`: the outcome and the first reason, shortened to `width` characters. */
export function decisionCell(d: VersionDecision | null, width = 48): string {
  if (!d) return '';
  const first = d.reasons[0];
  const more = d.reasons.length > 1 ? ` (+${d.reasons.length - 1})` : '';
  if (!first) return d.outcome;
  const text = `${d.outcome}: ${first}`;
  return (text.length > width ? `${text.slice(0, width - 1)}…` : text) + more;
}

/** The whole decision, as `models show` prints it. */
export function decisionLines(d: VersionDecision | null): string[] {
  if (!d) return ['decision: none recorded'];
  const baseline = d.baselineVersion === null ? 'none' : `version ${d.baselineVersion}${d.baselinePinned ? ' (pinned)' : ' (live)'}`;
  const lines = [`decision: ${d.outcome}`, `  baseline: ${baseline}`, '  reasons:'];
  lines.push(...(d.reasons.length ? d.reasons.map((r) => `    - ${r}`) : ['    (none given)']));
  const numbers = Object.entries(d.numbers).sort(([a], [b]) => a.localeCompare(b));
  lines.push('  numbers:', ...(numbers.length ? numbers.map(([k, v]) => `    ${k}: ${v}`) : ['    (none)']));
  return lines;
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
          weights: v.weightsPrunedAt ? 'pruned' : 'kept', decision: decisionCell(v.decision),
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
        if (o.json) return print(v, o);
        const { decision, ...rest } = v;
        print({ ...rest, createdAt: v.createdAt.toISOString(), weightsPrunedAt: v.weightsPrunedAt?.toISOString() ?? null }, o);
        console.log(decisionLines(decision).join('\n'));
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
    .command('promote')
    .description('make this version live (the live one is retired), on your word rather than the release gate\'s')
    .argument('<model>').argument('<version>', 'version number', positiveInt('version'))
    .option(...reasonOption)
    .action(async (model: string, version: number, o: { reason: string }) =>
      withDatabase(async (db) => {
        const { from, pinned } = await promote(db, model, version, operator(o));
        const note = pinned !== null ? ` (version ${pinned} stays pinned and served until 'deepchain models unpin ${model}')` : '';
        console.log(`promoted ${model} version ${version}${from !== null ? ` (was ${from})` : ''}${note}; ${await announceChange(db, model)}`);
      }));

  models
    .command('pin')
    .description('serve this version on every node until unpinned')
    .argument('<model>').argument('<version>', 'version number', positiveInt('version'))
    .option(...reasonOption)
    .action(async (model: string, version: number, o: { reason: string }) =>
      withDatabase(async (db) => {
        await pin(db, model, version, operator(o));
        console.log(`pinned ${model} to version ${version}; ${await announceChange(db, model)}`);
      }));

  models
    .command('unpin')
    .description('serve the live version again')
    .argument('<model>')
    .option(...reasonOption)
    .action(async (model: string, o: { reason: string }) =>
      withDatabase(async (db) => {
        const { from } = await unpin(db, model, operator(o));
        if (from === null) return console.log(`${model} was not pinned; nothing changed`);
        console.log(`unpinned ${model} (was ${from}); ${await announceChange(db, model)}`);
      }));

  models
    .command('rollback')
    .description('retire the live version and make the previous one live')
    .argument('<model>')
    .option(...reasonOption)
    .action(async (model: string, o: { reason: string }) =>
      withDatabase(async (db) => {
        const { from, to } = await rollback(db, model, operator(o));
        console.log(`rolled ${model} back from ${from} to ${to}; ${await announceChange(db, model)}`);
      }));

  models
    .command('history')
    .description('who changed the live or pinned version, when and why (newest first)')
    .argument('<model>')
    .option(...json)
    .option('--limit <n>', 'at most this many changes', positiveInt('--limit'), 50)
    .action(async (model: string, o: OutputOptions & { limit: number }) =>
      withDatabase(async (db) => {
        if (!(await listModels(db)).some((m) => m.name === model)) {
          throw new Error(`there is no model '${model}' in the registry: see 'deepchain models list'`);
        }
        const rows = await listChanges(db, model, o.limit);
        print(o.json ? rows : rows.map((c) => ({
          at: c.at.toISOString(), actor: c.actor, action: c.action, from: c.fromVersion, to: c.toVersion, reason: c.reason,
        })), o);
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
