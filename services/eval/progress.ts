/**
 * A plain text progress bar for long evaluation runs, written to a stream (stderr). On a terminal it
 * redraws one line; elsewhere (logs, tests) it prints a line per finished task and per quarter of a task.
 */
export interface ProgressStream {
  write(s: string): unknown;
  readonly isTTY?: boolean;
}

export function renderBar(fraction: number, width = 30): string {
  const f = Math.min(1, Math.max(0, fraction));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${Math.floor(f * 100).toString().padStart(3)}%`;
}

export class ProgressBar {
  private lastQuarter = -1;
  private lastDraw = 0;
  constructor(private readonly stream: ProgressStream) {}

  update(task: { index: number; count: number; label: string }, done: number, total: number): void {
    const overall = (task.index - 1 + done / Math.max(1, total)) / task.count;
    const text = `${renderBar(overall)} task ${task.index}/${task.count} ${task.label}: ${done}/${total}`;
    if (this.stream.isTTY) {
      const now = Date.now();
      if (done === total || now - this.lastDraw > 100) {
        this.stream.write(`\r\x1b[2K${text}`);
        this.lastDraw = now;
      }
      return;
    }
    const quarter = Math.floor((4 * done) / Math.max(1, total));
    if (quarter !== this.lastQuarter || done === total) {
      if (quarter !== this.lastQuarter) this.stream.write(`${text}\n`);
      this.lastQuarter = done === total ? -1 : quarter;
    }
  }

  /** A log line that does not break the bar. */
  log(message: string): void {
    this.stream.write(this.stream.isTTY ? `\r\x1b[2K${message}\n` : `${message}\n`);
  }
}
