// Latency percentiles over a sliding window of the most recent calls: bounded memory, and the
// stats always describe current behaviour rather than the agent's whole life.

export class LatencyWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private count = 0;

  constructor(size: number) {
    this.samples = new Float64Array(size);
  }

  record(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
  }

  /** Percentiles (0..100) of the window, in ms; zeros when nothing was recorded. */
  percentiles(...ps: number[]): number[] {
    if (this.count === 0) return ps.map(() => 0);
    const sorted = this.samples.slice(0, this.count).sort();
    return ps.map((p) => {
      const i = Math.min(this.count - 1, Math.max(0, Math.ceil((p / 100) * this.count) - 1));
      return Math.round(sorted[i]! * 1000) / 1000;
    });
  }
}
