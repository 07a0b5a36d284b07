/** The paper's parameter study (§4.4, Fig. 7): DeepChain's offline (7b) and online (7a) tests at several history lengths N. */
import type { PageView } from './logged-session.js';
import { runOffline, type OfflineConfig, type OfflineHooks, type OfflineResult } from './offline.js';
import { runOnline, type OnlineConfig, type OnlineResult } from './online.js';

export interface SensitivityResult {
  readonly lengths: readonly number[];
  readonly runs: readonly { historyLength: number; result: OfflineResult }[];
}

/**
 * Runs `run` once per history length N; each run's progress is reported as a share of the whole sweep.
 */
async function sweepLengths<R>(
  lengths: readonly number[],
  hooks: OfflineHooks,
  run: (N: number, hooks: OfflineHooks) => Promise<R>,
): Promise<{ historyLength: number; result: R }[]> {
  const runs: { historyLength: number; result: R }[] = [];
  for (const [i, N] of lengths.entries()) {
    const result = await run(N, {
      log: hooks.log,
      onProgress: hooks.onProgress
        ? (t, d, n) => hooks.onProgress!({ index: i * t.count + t.index, count: lengths.length * t.count, label: `N=${N} ${t.label}` }, d, n)
        : undefined,
    });
    runs.push({ historyLength: N, result });
  }
  return runs;
}

export async function runSensitivity(views: readonly PageView[], config: OfflineConfig, lengths: readonly number[], hooks: OfflineHooks = {}): Promise<SensitivityResult> {
  const runs = await sweepLengths(lengths, hooks, (N, h) => runOffline(views, { ...config, sizes: { ...config.sizes, historyLength: N } }, h));
  return { lengths, runs };
}

export interface OnlineSensitivityResult {
  readonly lengths: readonly number[];
  readonly runs: readonly { historyLength: number; result: OnlineResult }[];
}

/** The online half of the study (Fig. 7a): DeepChain's online test (Algorithm 2) at several N. */
export async function runOnlineSensitivity(config: OnlineConfig, lengths: readonly number[], hooks: OfflineHooks = {}): Promise<OnlineSensitivityResult> {
  const runs = await sweepLengths(lengths, hooks, (N, h) =>
    runOnline({ ...config, models: ['DeepChain'], training: { ...config.training, sizes: { ...config.training.sizes, historyLength: N } } }, h),
  );
  return { lengths, runs };
}
