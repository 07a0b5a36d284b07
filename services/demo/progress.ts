/**
 * The live progress display on stderr: one line rewritten in place on a terminal, or a line every few
 * seconds when stderr is a file or a pipe. Pure formatting (`progressLine`) plus the small writer.
 */
export interface ProgressFields {
  elapsedMs: number;
  sessions: number;
  /** Mean reward of the most recent sessions (null: none yet). */
  recentReward: number | null;
  recentWindow: number;
  versionsLive: number;
  versionsRejected: number;
  servingVersion: number | null;
  steps: number | null;
  losses: { critic: number; actor: number; probability: number } | null;
  transitions: number | null;
}

const num = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function progressLine(p: ProgressFields): string {
  const parts = [
    `[${clock(p.elapsedMs)}]`,
    `sessions ${p.sessions}`,
    `reward/session ${p.recentReward === null ? '-' : num(p.recentReward)} (last ${p.recentWindow})`,
    `versions ${p.versionsLive} live${p.versionsRejected ? ` ${p.versionsRejected} rejected` : ''}`,
    `serving v${p.servingVersion ?? '-'}`,
  ];
  if (p.steps !== null) parts.push(`steps ${p.steps}`);
  if (p.losses) parts.push(`loss critic ${num(p.losses.critic, 3)} actor ${num(p.losses.actor, 3)} prob ${num(p.losses.probability, 3)}`);
  if (p.transitions !== null) parts.push(`transitions ${p.transitions}`);
  return parts.join('  ');
}

export class ProgressWriter {
  private last = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly everyMsWhenNotTty = 10_000,
  ) {}

  update(p: ProgressFields, force = false): void {
    const line = progressLine(p);
    if (this.stream.isTTY) {
      this.stream.write(`\r${line.slice(0, Math.max(20, (this.stream.columns ?? 200) - 1))}\x1b[K`);
    } else if (force || p.elapsedMs - this.last >= this.everyMsWhenNotTty) {
      this.last = p.elapsedMs;
      this.stream.write(`${line}\n`);
    }
  }

  /** Ends the in-place line. */
  done(): void {
    if (this.stream.isTTY) this.stream.write('\n');
  }

  note(text: string): void {
    if (this.stream.isTTY) this.stream.write(`\r\x1b[K`);
    this.stream.write(`${text}\n`);
  }
}
