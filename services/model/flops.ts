/**
 * FLOP meter: every matrix product the model performs adds 2·m·k·n here, computed from the operand
 * shapes at the moment it runs (forward and backward). Element-wise work is not counted, so the bench's
 * model GFLOP/s is a lower bound of the arithmetic really done.
 */
export const flopMeter = {
  total: 0,
  add(n: number): void {
    this.total += n;
  },
  /** Returns the FLOPs counted since the last take() and resets the count. */
  take(): number {
    const n = this.total;
    this.total = 0;
    return n;
  },
};
