/**
 * `deepchain data import trivago` and `deepchain eval offline|online|sensitivity`: the paper's test tasks
 * (services/eval). Each command reads files, calls the eval library, writes DIR/metrics.json and
 * DIR/report.md with its charts.
 */
import type { Command } from 'commander';
import { readPageViews, writePageViews } from '../eval/jsonl-file.js';
import { DEFAULT_OFFLINE, MODEL_NAMES, runOffline, type ModelName, type OfflineConfig } from '../eval/offline.js';
import { ProgressBar } from '../eval/progress.js';
import { runOnline, type OnlineConfig } from '../eval/online.js';
import { writeOfflineReport, writeOnlineReport, writeOnlineSensitivityReport, writeSensitivityReport } from '../eval/report-files.js';
import { runOnlineSensitivity, runSensitivity } from '../eval/sensitivity.js';
import { convertTrivago } from '../eval/trivago.js';
import { readTrivagoParquet } from '../eval/trivago-parquet.js';

function positiveInt(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
    return n;
  };
}

function intList(name: string) {
  return (raw: string): number[] => raw.split(',').map((s) => positiveInt(name)(s.trim()));
}

function modelList(raw: string): ModelName[] {
  const names = raw.split(',').map((s) => s.trim());
  for (const n of names) if (!(MODEL_NAMES as readonly string[]).includes(n)) throw new Error(`unknown model '${n}'; known: ${MODEL_NAMES.join(', ')}`);
  return names as ModelName[];
}

interface OfflineFlags {
  sessions: string;
  out: string;
  seeds: number;
  models: ModelName[];
  history: number;
  steps: number;
  baselineSteps: number;
  hidden: number;
  limit?: number;
  item2vecLists?: boolean;
}

function offlineConfig(o: OfflineFlags): OfflineConfig {
  return {
    ...DEFAULT_OFFLINE,
    seeds: Array.from({ length: o.seeds }, (_, i) => i + 1),
    models: o.models,
    historyLength: o.history,
    embedding: { ...DEFAULT_OFFLINE.embedding, lists: o.item2vecLists ?? false },
    deepchain: { ...DEFAULT_OFFLINE.deepchain, steps: o.steps, hiddenSize: o.hidden },
    baselines: { ...DEFAULT_OFFLINE.baselines, steps: o.baselineSteps, hiddenSize: o.hidden },
  };
}

function offlineOptions(cmd: Command): Command {
  const d = DEFAULT_OFFLINE;
  return cmd
    .requiredOption('--sessions <file>', 'logged sessions (JSONL, services/eval/README.md)')
    .requiredOption('--out <dir>', 'where metrics.json, report.md and the charts go')
    .option('--seeds <n>', 'seeds (≥ 3 for an interval worth reading)', positiveInt('--seeds'), d.seeds.length)
    .option('--history <n>', 'history length N of every sequence model', positiveInt('--history'), d.historyLength)
    .option('--steps <n>', 'Algorithm 1 steps per DeepChain variant', positiveInt('--steps'), d.deepchain.steps)
    .option('--baseline-steps <n>', 'training steps of DDPG and MA-RDPG', positiveInt('--baseline-steps'), d.baselines.steps)
    .option('--hidden <n>', 'GRU size |H| of every recurrent model', positiveInt('--hidden'), d.deepchain.hiddenSize)
    .option('--limit <n>', 'read only the first n views (a quick look; the split stays by time)', positiveInt('--limit'))
    .option('--item2vec-lists', 'also train item2vec on each shown list (co-display), not only on click sequences');
}

interface OnlineFlags {
  out: string;
  seeds: number;
  logSessions: number;
  testSessions: number;
  k: number;
  users: number;
  items: number;
  history: number;
  steps: number;
  baselineSteps: number;
}

/** The options every online command takes (world, logging, serving, training sizes). */
function onlineOptions(command: Command): Command {
  return command
    .requiredOption('--out <dir>', 'where metrics.json, report.md and the charts go')
    .option('--seeds <n>', 'seeds (a world each)', positiveInt('--seeds'), 3)
    .option('--log-sessions <n>', 'sessions logged under the random policy for training', positiveInt('--log-sessions'), 600)
    .option('--test-sessions <n>', 'sessions each model serves per seed', positiveInt('--test-sessions'), 300)
    .option('--k <n>', 'items per page', positiveInt('--k'), 5)
    .option('--users <n>', 'simulated users', positiveInt('--users'), 300)
    .option('--items <n>', 'catalogue size', positiveInt('--items'), 240)
    .option('--history <n>', 'history length N of every sequence model', positiveInt('--history'), DEFAULT_OFFLINE.historyLength)
    .option('--steps <n>', 'Algorithm 1 steps per DeepChain variant', positiveInt('--steps'), DEFAULT_OFFLINE.deepchain.steps)
    .option('--baseline-steps <n>', 'training steps of DDPG and MA-RDPG', positiveInt('--baseline-steps'), DEFAULT_OFFLINE.baselines.steps);
}

function onlineConfig(o: OnlineFlags, models: ModelName[]): OnlineConfig {
  const training = offlineConfig({ sessions: '', out: o.out, seeds: o.seeds, models, history: o.history, steps: o.steps, baselineSteps: o.baselineSteps, hidden: DEFAULT_OFFLINE.deepchain.hiddenSize });
  return {
    seeds: training.seeds, models, world: { users: o.users, items: o.items }, walk: {}, k: o.k,
    logSessions: o.logSessions, testSessions: o.testSessions, training: { ...training, attention: false },
  };
}

export function addEvalCommands(program: Command): void {
  const data = program.command('data').description('logged-session data');
  const imp = data.command('import').description('convert logs to the logged-session JSONL format');
  imp
    .command('trivago')
    .description('trivago RecSys Challenge 2019 Parquet → logged sessions (mapping: services/eval/README.md)')
    .requiredOption('--in <file>', 'the Parquet file, e.g. ../shared/data/trivago/trivago_dev.parquet')
    .requiredOption('--out <file>', 'JSONL output')
    .option('--history <n>', 'history items kept per view', positiveInt('--history'), 50)
    .action(async (o: { in: string; out: string; history: number }) => {
      const rows = await readTrivagoParquet(o.in);
      const { views, stats } = convertTrivago(rows, { historyLimit: o.history });
      await writePageViews(o.out, views);
      console.log(JSON.stringify({ out: o.out, ...stats }, null, 2));
    });

  const evaluation = program.command('eval').description("the paper's test tasks (§3.5, §4)");
  offlineOptions(
    evaluation
      .command('offline')
      .description('Algorithm 3 on logged sessions: time split 80/20, every model, NDCG@10 and MAP per scenario over seeds'),
  )
    .option('--models <list>', `comma-separated subset of ${MODEL_NAMES.join(',')}`, modelList, [...MODEL_NAMES])
    .action(async (o: OfflineFlags) => {
      const views = await readPageViews(o.sessions, o.limit === undefined ? {} : { limit: o.limit });
      const bar = new ProgressBar(process.stderr);
      const result = await runOffline(views, offlineConfig(o), { onProgress: (t, d, n) => bar.update(t, d, n), log: (m) => bar.log(m) });
      const files = await writeOfflineReport(o.out, result);
      console.log(`wrote ${files.join(', ')}`);
    });

  offlineOptions(
    evaluation
      .command('sensitivity')
      .description("the paper's parameter study (Fig. 7b): DeepChain's offline NDCG and MAP per scenario for several history lengths N"),
  )
    .option('--lengths <list>', 'history lengths N to compare', intList('--lengths'), [1, 5, 10, 20])
    .action(async (o: OfflineFlags & { lengths: number[] }) => {
      const views = await readPageViews(o.sessions, o.limit === undefined ? {} : { limit: o.limit });
      const bar = new ProgressBar(process.stderr);
      const result = await runSensitivity(views, { ...offlineConfig({ ...o, models: ['DeepChain'] }), attention: false }, o.lengths, {
        onProgress: (t, d, n) => bar.update(t, d, n),
        log: (m) => bar.log(m),
      });
      const files = await writeSensitivityReport(o.out, result);
      console.log(`wrote ${files.join(', ')}`);
    });

  onlineOptions(
    evaluation
      .command('online')
      .description('Algorithm 2 on the simulator: every model trains on the same random-policy logs, then serves simulated users; reward, clicks and pages per session over seeds'),
  )
    .option('--models <list>', 'comma-separated models', modelList, MODEL_NAMES.filter((m) => m !== 'logged'))
    .action(async (o: OnlineFlags & { models: ModelName[] }) => {
      if (o.models.includes('logged')) throw new Error("'logged' has no meaning online; the report always includes the logging policy itself");
      const bar = new ProgressBar(process.stderr);
      const result = await runOnline(onlineConfig(o, o.models), { onProgress: (t, d, n) => bar.update(t, d, n), log: (m) => bar.log(m) });
      const files = await writeOnlineReport(o.out, result);
      console.log(`wrote ${files.join(', ')}`);
    });

  onlineOptions(
    evaluation
      .command('sensitivity-online')
      .description("the paper's parameter study (Fig. 7a): DeepChain's online reward per session for several history lengths N"),
  )
    .option('--lengths <list>', 'history lengths N to compare', intList('--lengths'), [1, 5, 10, 20])
    .action(async (o: OnlineFlags & { lengths: number[] }) => {
      const bar = new ProgressBar(process.stderr);
      const result = await runOnlineSensitivity(onlineConfig(o, ['DeepChain']), o.lengths, {
        onProgress: (t, d, n) => bar.update(t, d, n),
        log: (m) => bar.log(m),
      });
      const files = await writeOnlineSensitivityReport(o.out, result);
      console.log(`wrote ${files.join(', ')}`);
    });
}
