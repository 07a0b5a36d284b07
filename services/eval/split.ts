/**
 * The paper's temporal split (§4.1): sessions in order of their first view, the first 80% for training,
 * the later 20% for the (offline) test. A session is never cut in two.
 */
import { groupSessions, type PageView } from './logged-session.js';

export interface TimeSplit {
  readonly train: PageView[];
  readonly test: PageView[];
  readonly trainSessions: number;
  readonly testSessions: number;
  /** Time of the first test session's first view (epoch ms), or null when the test part is empty. */
  readonly cutoff: number | null;
}

export function splitByTime(views: readonly PageView[], trainFraction = 0.8): TimeSplit {
  if (!(trainFraction > 0 && trainFraction < 1)) throw new Error(`train fraction must be in (0, 1), got ${trainFraction}`);
  const sessions = groupSessions(views);
  const cut = Math.floor(sessions.length * trainFraction);
  const train = sessions.slice(0, cut).flat();
  const test = sessions.slice(cut).flat();
  return { train, test, trainSessions: cut, testSessions: sessions.length - cut, cutoff: sessions[cut]?.[0]?.time ?? null };
}
