/**
 * `deepchain data import trivago` and `deepchain eval offline|online|sensitivity`: the paper's test tasks
 * (services/eval). Each command reads files, calls the eval library, writes DIR/metrics.json and
 * DIR/report.md with its charts.
 */
import type { Command } from 'commander';
import { readPageViews, writePageViews } from '../eval/jsonl-file.js';
import { DEFAULT_OFFLINE, MODEL_NAMES, runOffline, type ModelName, type OfflineConfig } from '../eval/offline.js';
import { ProgressBar } from '../eval/progress.js';
import { DEFAULT_ONLINE_COUNTS, runOnline, type OnlineConfig } from '../eval/online.js';
import { addSimulatorOptions, simulatorSettings, type SimulatorFlags } from './simulator-options.js';
import { writeAblationReport, writeOfflineReport, writeOnlineReport, writeOnlineSensitivityReport, writeSensitivityReport } from '../eval/report-files.js';
import { runOnlineSensitivity, runSensitivity } from '../eval/sensitivity.js';
import { convertTrivago } from '../eval/trivago.js';
import { DEFAULT_ABLATION, offlineAblationMarkdown, onlineAblationMarkdown, runOfflineAblation, runOnlineAblation } from '../eval/ablation.js';

/** The ablation's default world: the online test uses worlds 1–5, so settings are never chosen on them. */
const DEVELOPMENT_WORLD = 11;
import { readTrivagoParquet } from '../eval/trivago-parquet.js';
import { DEFAULT_OPE_CHECK, runOpeCheck } from '../eval/ope-check.js';
import { opeCheckLine, summariseOpeCheck, writeOpeCheckReport } from '../eval/ope-report.js';

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
  hidden: number;
  budget: number;
  earlyStop: number;
  validationFraction: number;
  limit?: number;
  item2vecLists?: boolean;
}

function offlineConfig(o: Omit<OfflineFlags, 'sessions' | 'out'>): OfflineConfig {
  const d = DEFAULT_OFFLINE;
  return {
    ...d,
    seeds: Array.from({ length: o.seeds }, (_, i) => i + 1),
    models: o.models,
    validationFraction: o.validationFraction,
    budget: o.budget,
    patience: o.earlyStop,
    sizes: {
      ...d.sizes,
      historyLength: o.history,
      deepchain: { ...d.sizes.deepchain, hiddenSize: o.hidden },
      baselines: { ...d.sizes.baselines, hiddenSize: o.hidden },
    },
    embedding: { ...d.embedding, lists: o.item2vecLists ?? false },
  };
}

function positiveNumber(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got '${raw}'`);
    return n;
  };
}

function fraction(name: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !(n > 0 && n < 1)) throw new Error(`${name} must be a number in (0, 1), got '${raw}'`);
    return n;
  };
}

/** Options every test command shares: seeds, sizes, and how long the validation search may train. */
function trainingOptions(cmd: Command, defaults = { seeds: DEFAULT_OFFLINE.seeds.length, budget: DEFAULT_OFFLINE.budget }): Command {
  const d = DEFAULT_OFFLINE;
  return cmd
    .option('--seeds <n>', 'seeds (≥ 3 for an interval worth reading)', positiveInt('--seeds'), defaults.seeds)
    .option('--history <n>', 'history length N of every sequence model', positiveInt('--history'), d.sizes.historyLength)
    .option('--hidden <n>', 'GRU size |H| of every recurrent model', positiveInt('--hidden'), d.sizes.deepchain.hiddenSize)
    .option('--budget <x>', 'multiplies every model\'s most training steps or epochs (1 fits 2 cores in ~40 min; 4 or more on a bigger machine)', positiveNumber('--budget'), defaults.budget)
    .option('--early-stop <n>', 'validation checkpoints without a new best before a training run stops', positiveInt('--early-stop'), d.patience)
    .option('--validation-fraction <x>', 'latest share of the training sessions held out for validation', fraction('--validation-fraction'), d.validationFraction);
}

function offlineOptions(cmd: Command): Command {
  return trainingOptions(cmd
    .requiredOption('--sessions <file>', 'logged sessions (JSONL, services/eval/README.md)')
    .requiredOption('--out <dir>', 'where metrics.json, report.md and the charts go'))
    .option('--limit <n>', 'read only the first n views (a quick look; the split stays by time)', positiveInt('--limit'))
    .option('--item2vec-lists', 'also train item2vec on each shown list (co-display), not only on click sequences');
}

interface OnlineFlags extends Omit<OfflineFlags, 'sessions' | 'limit' | 'item2vecLists'> {
  logSessions: number;
  testSessions: number;
  logEpsilon: number;
  maxValidationViews: number;
  k: number;
}

/** The online commands' options: the world and walk (the simulator's own flags), logging, serving and training. */
function onlineOptions(command: Command): Command {
  const d = DEFAULT_ONLINE_COUNTS;
  return trainingOptions(addSimulatorOptions(command.requiredOption('--out <dir>', 'where metrics.json, report.md and the charts go')), { seeds: d.seeds, budget: d.budget })
    .option('--log-sessions <n>', 'sessions logged under the exploring logging policy for training, per seed', positiveInt('--log-sessions'), d.logSessions)
    .option('--log-epsilon <x>', "the logging policy's per-slot exploration ε (a random candidate instead of its own choice)", fraction('--log-epsilon'), d.logEpsilon)
    .option('--test-sessions <n>', 'sessions each model serves per seed', positiveInt('--test-sessions'), d.testSessions)
    .option('--max-validation-views <n>', 'validation views scored at each checkpoint (evenly spread)', positiveInt('--max-validation-views'), d.maxValidationViews)
    .option('--k <n>', 'items per page', positiveInt('--k'), d.k);
}

function onlineConfig(o: OnlineFlags & SimulatorFlags, models: ModelName[]): OnlineConfig {
  const training = offlineConfig({ ...o, models });
  const sim = simulatorSettings(o);
  return {
    seeds: training.seeds.map((s) => s - 1 + sim.firstSeed), models, world: sim.world, walk: sim.walk, rewards: sim.rewards, k: o.k,
    logSessions: o.logSessions, logEpsilon: o.logEpsilon, testSessions: o.testSessions, maxValidationViews: o.maxValidationViews,
    training: { ...training, attention: false },
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
      .description('Algorithm 3 on logged sessions: time split 80/20 with a validation part, every model, NDCG@10, MAP, MRR and HR@10 per scenario, paired comparisons'),
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
      .command('ablation')
      .description("DeepChain's levers one at a time, from the paper's configuration to the product's, on the validation part only (NDCG, MAP, MRR, paired with history-first and the paper row)"),
  )
    .option('--steps <n>', 'most Algorithm 1 steps per row', positiveInt('--steps'), DEFAULT_ABLATION.steps)
    .action(async (o: OfflineFlags & { steps: number }) => {
      const views = await readPageViews(o.sessions, o.limit === undefined ? {} : { limit: o.limit });
      const config = offlineConfig({ ...o, models: ['DeepChain'] });
      const result = await runOfflineAblation(views, config, { ...DEFAULT_ABLATION, steps: o.steps, every: Math.min(DEFAULT_ABLATION.every, o.steps) }, (m) => process.stderr.write(`${m}\n`));
      console.log(`wrote ${(await writeAblationReport(o.out, result, offlineAblationMarkdown(result, config.k))).join(', ')}`);
    });

  const ablationOnline = onlineOptions(
    evaluation
      .command('ablation-online')
      .description("DeepChain's levers one at a time on a development world's users (--first-seed, default 11: not one of the online test's worlds), reward per session paired with SKNN and the logging policy"),
  );
  ablationOnline
    .option('--steps <n>', 'Algorithm 1 steps per row', positiveInt('--steps'), 1000)
    .action(async (o: OnlineFlags & SimulatorFlags & { steps: number }) => {
      const firstSeed = ablationOnline.getOptionValueSource('firstSeed') === 'default' ? DEVELOPMENT_WORLD : o.firstSeed;
      const config = onlineConfig({ ...o, firstSeed, seeds: 1 } as typeof o, ['DeepChain']);
      const result = await runOnlineAblation(config, { ...DEFAULT_ABLATION, steps: o.steps }, (m) => process.stderr.write(`${m}\n`));
      console.log(`wrote ${(await writeAblationReport(o.out, result, onlineAblationMarkdown(result))).join(', ')}`);
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
      .description('Algorithm 2 on the simulator: every model trains on the same exploring-policy logs, then serves the same simulated users; reward, clicks, purchases and pages per session, paired over sessions'),
  )
    .option('--models <list>', 'comma-separated models', modelList, MODEL_NAMES.filter((m) => m !== 'logged'))
    .action(async (o: OnlineFlags & SimulatorFlags & { models: ModelName[] }) => {
      if (o.models.includes('logged')) throw new Error("'logged' has no meaning online; the report always includes the logging policy itself");
      const bar = new ProgressBar(process.stderr);
      const result = await runOnline(onlineConfig(o, o.models), { onProgress: (t, d, n) => bar.update(t, d, n), log: (m) => bar.log(m) });
      const files = await writeOnlineReport(o.out, result);
      console.log(`wrote ${files.join(', ')}`);
    });

  const ope = DEFAULT_OPE_CHECK;
  addSimulatorOptions(
    evaluation
      .command('ope-check')
      .description("the release gate's off-policy estimates (IPS, SNIPS, DR) of several target policies on exploring-policy logs, checked against each target's true value on the same simulated users: coverage of the 95% intervals and rank correlation")
      .requiredOption('--out <dir>', 'where metrics.json and report.md go'),
  )
    .option('--seeds <n>', 'worlds (first-seed, first-seed + 1, …), pooled', positiveInt('--seeds'), ope.seeds)
    .option('--sessions <n>', 'sessions logged for the estimates (and served by each target for its truth), per world', positiveInt('--sessions'), ope.sessions)
    .option('--train-sessions <n>', 'sessions logged for training the targets, per world', positiveInt('--train-sessions'), ope.trainSessions)
    .option('--epsilon <x>', "the logging policy's per-slot exploration ε", fraction('--epsilon'), ope.epsilon)
    .option('--k <n>', 'items per page', positiveInt('--k'), ope.k)
    .option('--recall <n>', "candidates recalled per page from the user's history neighbours (the serving node's recall): what the logging policy explores and every target ranks", positiveInt('--recall'), ope.recall)
    .option('--steps <n>', "Algorithm 1 steps of the DeepChain target", positiveInt('--steps'), ope.steps)
    .option('--resamples <n>', 'bootstrap resamples of every interval', positiveInt('--resamples'), ope.resamples)
    .option('--min-pages <n>', "the guard's minimum of logged pages (the module's default: 50,000)", positiveInt('--min-pages'), ope.minPages)
    .option('--challenger-share <x>', 'the share of users each target serves as a challenger, for its on-policy estimate', fraction('--challenger-share'), ope.challengerShare)
    .option('--challenger-draws <n>', "further draws of each target's challenger users, for the challenger intervals' coverage over many draws", positiveInt('--challenger-draws'), ope.challengerDraws)
    .option('--min-ess <n>', "the guard's minimum effective sample size (the module's default: 1,000)", positiveInt('--min-ess'), ope.minEffectiveSampleSize)
    .action(async (o: SimulatorFlags & { out: string; seeds: number; sessions: number; trainSessions: number; epsilon: number; k: number; recall: number; steps: number; resamples: number; minPages: number; minEss: number; challengerShare: number; challengerDraws: number }) => {
      const sim = simulatorSettings(o);
      const result = await runOpeCheck({
        ...ope, seeds: Array.from({ length: o.seeds }, (_, i) => sim.firstSeed + i), world: sim.world, walk: sim.walk, rewards: sim.rewards,
        k: o.k, recall: o.recall, trainSessions: o.trainSessions, sessions: o.sessions, epsilon: o.epsilon, steps: o.steps, resamples: o.resamples,
        minPages: o.minPages, minEffectiveSampleSize: o.minEss, challengerShare: o.challengerShare, challengerDraws: o.challengerDraws, sizes: DEFAULT_OFFLINE.sizes, embedding: DEFAULT_OFFLINE.embedding,
      }, { log: (m) => process.stderr.write(`${m}\n`) });
      const summary = summariseOpeCheck(result);
      const files = await writeOpeCheckReport(o.out, result, summary);
      process.stderr.write(`wrote ${files.join(', ')} in ${o.out}\n`);
      console.log(opeCheckLine(summary));
    });

  onlineOptions(
    evaluation
      .command('sensitivity-online')
      .description("the paper's parameter study (Fig. 7a): DeepChain's online reward per session for several history lengths N"),
  )
    .option('--lengths <list>', 'history lengths N to compare', intList('--lengths'), [1, 5, 10, 20])
    .action(async (o: OnlineFlags & SimulatorFlags & { lengths: number[] }) => {
      const bar = new ProgressBar(process.stderr);
      const result = await runOnlineSensitivity(onlineConfig(o, ['DeepChain']), o.lengths, {
        onProgress: (t, d, n) => bar.update(t, d, n),
        log: (m) => bar.log(m),
      });
      const files = await writeOnlineSensitivityReport(o.out, result);
      console.log(`wrote ${files.join(', ')}`);
    });
}
