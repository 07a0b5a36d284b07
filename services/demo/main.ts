/**
 * `npm run demo`: the whole DeepChain loop with simulated users, then the chart and the verdict line.
 * Only wiring: options, the embedded or the real-server run, the report.
 */
import { DeepChainError, KAFKA_ENV, loadConfig } from '../common/index.js';
import { startDemoConsole } from '../console/demo.js';
import { MODEL_NAME, runEmbedded } from './embedded.js';
import { parseDemoArgs } from './options.js';
import { ProgressWriter } from './progress.js';
import { runOnServers } from './real.js';
import { writeReport } from './report.js';

const env = loadConfig({ SCHEMA_REGISTRY_URL: KAFKA_ENV.SCHEMA_REGISTRY_URL });
let settings;
try {
  settings = parseDemoArgs(process.argv.slice(2), env.SCHEMA_REGISTRY_URL);
} catch (err) {
  const code = (err as { exitCode?: number }).exitCode;
  if (code !== undefined) process.exit(code); // commander printed help or the error already
  console.error(`demo: ${(err as Error).message}`);
  process.exit(2);
}

const progress = new ProgressWriter();
try {
  // The live console (--console) is up from before the demo builds its parts until the report is written.
  const live = settings.console ? await startDemoConsole({ ...settings.console, model: MODEL_NAME }) : null;
  if (live) progress.note(`console: ${live.url}`);
  const run = settings.kafka ? await runOnServers(settings, progress) : await runEmbedded(settings, progress, { observe: live?.observe });
  const { line, chartPath } = await writeReport(run, settings);
  progress.note(`chart: ${chartPath}`);
  await live?.close();
  process.stdout.write(`${JSON.stringify(line)}\n`);
  process.exit(0);
} catch (err) {
  progress.note(`demo failed: ${err instanceof DeepChainError ? err.message : (err as Error).stack ?? String(err)}`);
  process.exit(1);
}
