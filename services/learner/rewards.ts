/**
 * Whether a transition was built with the rewards this learner trains with (DESIGN.md §2, §7). The
 * sessionizer writes r = rewards[behaviour] into every transition and Eq. 1 uses the learner's r_b: both
 * read REWARD_ENV (common/infra-config.ts), and these pure decisions catch a deployment where the two
 * disagree. The loop acts on them: a disagreement in the first fresh transitions it reads stops the
 * learner before it trains (a configuration error), one met later is dead-lettered with its reason.
 */
import { BEHAVIOURS, REWARD_VARIABLES, type Behaviour, type Rewards, type Transition } from '../common/index.js';

/** `{click:1,skip:0,leave:-2,purchase:1}`; a behaviour not given shows as `?`, several values as `a|b`. */
export function formatRewards(rewards: Partial<Record<Behaviour, number | readonly number[]>>): string {
  const value = (v: number | readonly number[] | undefined) =>
    v === undefined ? '?' : typeof v === 'number' ? String(v) : v.length === 0 ? '?' : v.join('|');
  return `{${BEHAVIOURS.map((b) => `${b}:${value(rewards[b])}`).join(',')}}`;
}

/**
 * Null when `t` carries this learner's reward for its behaviour, else the reason to refuse it. A
 * non-finite reward is not judged here (the trainer refuses it for that).
 */
export function rewardMismatch(rewards: Rewards, t: Pick<Transition, 'behaviour' | 'reward'>): string | null {
  const expected = rewards[t.behaviour];
  if (!Number.isFinite(t.reward) || t.reward === expected) return null;
  return `built with reward ${t.reward} for a ${t.behaviour}, the learner's is ${expected} ` +
    `(learner rewards ${formatRewards(rewards)}): set the same ${REWARD_VARIABLES[t.behaviour]} on the sessionizer and the learner`;
}

/**
 * The start-up check over the first fresh transitions read: null when every one agrees with `rewards`,
 * else an error naming both reward sets and the variables that differ.
 */
export function startupRewardMismatch(rewards: Rewards, transitions: readonly Pick<Transition, 'behaviour' | 'reward'>[]): string | null {
  const seen = new Map<Behaviour, Set<number>>();
  for (const t of transitions) {
    if (!Number.isFinite(t.reward)) continue;
    const values = seen.get(t.behaviour) ?? new Set<number>();
    values.add(t.reward);
    seen.set(t.behaviour, values);
  }
  const differing = BEHAVIOURS.filter((b) => [...(seen.get(b) ?? [])].some((r) => r !== rewards[b]));
  if (differing.length === 0) return null;
  const theirs = Object.fromEntries([...seen].map(([b, values]) => [b, [...values].sort((x, y) => x - y)]));
  return `learner rewards ${formatRewards(rewards)} differ from the transitions' ${formatRewards(theirs)} ` +
    `(the first ${transitions.length} transitions read; ${differing.map((b) => REWARD_VARIABLES[b]).join(', ')} ${differing.length === 1 ? 'differs' : 'differ'}): ` +
    'set the same SESSIONIZER_REWARD_* on the sessionizer and the learner';
}
