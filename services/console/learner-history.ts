/**
 * The learner panel: samples of the learner's counters taken over time (from the in-process trainer in the
 * demo, from the learner's /metrics in a deployment) → the latest values, training steps and transitions per
 * second (counter differences over about `rateSpanMs`), and the series the charts draw. Pure.
 */
import type { LearnerPanel, Losses } from './view.js';

export interface LearnerSample {
  /** When it was taken, Unix ms. */
  at: number;
  steps: number | null;
  transitions: number | null;
  replaySize: number | null;
  itemCount: number | null;
  losses: Losses | null;
}

const r4 = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 1e4) / 1e4);

export class LearnerHistory {
  private readonly samples: LearnerSample[] = [];

  constructor(
    readonly maxSamples = 720,
    readonly rateSpanMs = 5_000,
  ) {}

  push(sample: LearnerSample): void {
    const last = this.samples.at(-1);
    if (last && sample.at <= last.at) return;
    this.samples.push(sample);
    if (this.samples.length > this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples);
  }

  get size(): number {
    return this.samples.length;
  }

  /** Per second between sample i and the newest sample at least rateSpanMs older (the oldest, early on); null across a reset. */
  private rates(i: number): { steps: number | null; transitions: number | null } {
    if (i === 0) return { steps: null, transitions: null };
    const s = this.samples[i]!;
    let j = i - 1;
    while (j > 0 && s.at - this.samples[j]!.at < this.rateSpanMs) j--;
    const p = this.samples[j]!;
    const dt = (s.at - p.at) / 1000;
    const rate = (a: number | null, b: number | null) => (a === null || b === null || a < b ? null : (a - b) / dt);
    return { steps: rate(s.steps, p.steps), transitions: rate(s.transitions, p.transitions) };
  }

  panel(): LearnerPanel {
    const series: LearnerPanel['series'] = { t: [], critic: [], actor: [], probability: [], stepsPerSecond: [], transitionsPerSecond: [], replaySize: [], itemCount: [] };
    this.samples.forEach((s, i) => {
      const r = this.rates(i);
      series.t.push(s.at / 1000);
      series.critic.push(r4(s.losses?.critic));
      series.actor.push(r4(s.losses?.actor));
      series.probability.push(r4(s.losses?.probability));
      series.stepsPerSecond.push(r4(r.steps));
      series.transitionsPerSecond.push(r4(r.transitions));
      series.replaySize.push(s.replaySize);
      series.itemCount.push(s.itemCount);
    });
    const last = this.samples.at(-1);
    const rates = last ? this.rates(this.samples.length - 1) : { steps: null, transitions: null };
    return {
      available: true,
      latest: {
        steps: last?.steps ?? null,
        transitions: last?.transitions ?? null,
        replaySize: last?.replaySize ?? null,
        itemCount: last?.itemCount ?? null,
        losses: last?.losses ?? null,
        stepsPerSecond: r4(rates.steps),
        transitionsPerSecond: r4(rates.transitions),
      },
      series,
    };
  }
}
