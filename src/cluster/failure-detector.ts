// Phi-accrual failure detector (Hayashibara et al. 2004, as Akka and Cassandra run it) for an
// agent that is silent but not gone: a broken connection or an observed exit stops routing at
// once without it. Instead of "no heartbeat for X ms", it keeps the recent heartbeat intervals and
// says how unlikely the current silence is given them: phi = -log10(P(a heartbeat comes later
// than this)). phi 8 means a one in 10^8 chance that the agent is merely late.
//
// As Akka does: the interval is modelled as a normal distribution (its CDF by the logistic
// approximation), the mean is raised by an acceptable pause (a GC stall or a busy host must not
// look fatal), the standard deviation never goes below a minimum (a perfectly steady history would
// otherwise make a few ms of delay look fatal), and the history is seeded on the first heartbeat
// with the expected interval. Unlike Akka (as Cassandra does with its max interval), an interval
// long enough to have made the agent down is an outage, not a sample: recording it would inflate
// the mean and deviation and make the next death take many seconds to notice.
//
// Pure: the caller passes `now` (ms, one monotonic clock). A `now` before the last heartbeat is
// ignored, so a clock that steps back never records a negative interval.
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';

/** `starting`: no heartbeat yet. How long a start may take is Membership's call (it started the process). */
export type Liveness = 'starting' | 'alive' | 'suspect' | 'down';

export interface DetectorOptions {
  /** Interval agents send heartbeats at, ms: it seeds the history on the first heartbeat. */
  intervalMs: number;
  /** Phi at or above which the agent is down. */
  threshold: number;
  /** Phi at or above which the agent is suspect (below `threshold`). */
  suspectThreshold: number;
  /** Intervals kept (the most recent). */
  windowSize: number;
  /** Lowest standard deviation assumed, ms. */
  minStdDevMs: number;
  /** Silence tolerated on top of the mean interval, ms. */
  acceptablePauseMs: number;
}

export const DETECTOR_DEFAULTS: Readonly<DetectorOptions> = {
  intervalMs: DEFAULTS.clusterHeartbeatMs,
  threshold: DEFAULTS.phiThreshold,
  suspectThreshold: DEFAULTS.phiSuspectThreshold,
  windowSize: DEFAULTS.phiWindowSize,
  minStdDevMs: DEFAULTS.phiMinStdDevMs,
  acceptablePauseMs: DEFAULTS.phiAcceptablePauseMs,
};

/** Phi at the mean: the logistic CDF's 1/2. Thresholds must lie above it (see `silenceFor`). */
const PHI_AT_MEAN = Math.log10(2);

/**
 * Phi of a silence of `elapsedMs` when intervals are normal with this mean and standard deviation
 * (Akka's formula: the logistic approximation of the normal CDF, exact to ~1e-4). Increasing in
 * `elapsedMs`; Infinity once the probability underflows (a huge gap).
 */
export function phiOf(elapsedMs: number, meanMs: number, stdDevMs: number): number {
  const y = (elapsedMs - meanMs) / stdDevMs;
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
  return Math.max(0, elapsedMs > meanMs ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e))); // never -0
}

/** The silence (ms) at which phi reaches `phi` (> log10 2): the inverse of `phiOf`, in closed form. */
export function silenceFor(phi: number, meanMs: number, stdDevMs: number): number {
  // phi = -log10(e / (1 + e))  ⇔  e = p / (1 - p) with p = 10^-phi, and ln e = -y (1.5976 + 0.070566 y²):
  // the depressed cubic y³ + a y + b = 0 with a > 0 has one real root (Cardano).
  const p = 10 ** -phi;
  const a = 1.5976 / 0.070566;
  const b = Math.log(p / (1 - p)) / 0.070566;
  const d = Math.sqrt((b * b) / 4 + (a * a * a) / 27);
  const y = Math.cbrt(-b / 2 + d) + Math.cbrt(-b / 2 - d);
  return meanMs + y * stdDevMs;
}

export class PhiAccrualDetector {
  private readonly opts: DetectorOptions;
  private readonly intervals: Float64Array;
  private count = 0;
  private nextSlot = 0;
  private sum = 0;
  private sumSquares = 0;
  private last: number | null = null;

  /** `now`: when the agent was added (the start of its silence until its first heartbeat). */
  constructor(
    opts: Partial<DetectorOptions>,
    readonly createdAt: number,
  ) {
    this.opts = { ...DETECTOR_DEFAULTS, ...opts };
    const o = this.opts;
    if (!(o.intervalMs > 0 && o.minStdDevMs > 0 && o.acceptablePauseMs >= 0 && Number.isInteger(o.windowSize) && o.windowSize >= 2)) {
      throw new SnakepitError('CONFIG_INVALID', `failure detector: intervalMs and minStdDevMs must be > 0, acceptablePauseMs >= 0, windowSize an integer >= 2 (got ${JSON.stringify(o)})`);
    }
    if (!(o.suspectThreshold > PHI_AT_MEAN && o.threshold > o.suspectThreshold)) {
      throw new SnakepitError('CONFIG_INVALID', `failure detector: need log10(2) < suspectThreshold < threshold (got ${o.suspectThreshold}, ${o.threshold})`);
    }
    this.intervals = new Float64Array(o.windowSize);
  }

  /** Time of the last heartbeat accepted, or null before the first. */
  get lastHeartbeatAt(): number | null {
    return this.last;
  }

  /** Time since the last heartbeat (or since the agent was added, before the first), ms. */
  silentForMs(now: number): number {
    return Math.max(0, now - (this.last ?? this.createdAt));
  }

  /** Records a heartbeat that arrived at `now`. */
  heartbeat(now: number): void {
    if (this.last === null) {
      // Akka's bootstrap: two samples around the expected interval, so one heartbeat is enough.
      const i = this.opts.intervalMs;
      this.record(i - i / 4);
      this.record(i + i / 4);
    } else {
      if (now < this.last) return; // the clock went back: no such interval
      if (this.phi(now) < this.opts.threshold) this.record(now - this.last); // else an outage, not a sample
    }
    this.last = now;
  }

  /** Suspicion that the agent is gone, at `now`: 0 before the first heartbeat. */
  phi(now: number): number {
    if (this.last === null) return 0;
    const { mean, stdDev } = this.distribution();
    return phiOf(Math.max(0, now - this.last), mean, stdDev);
  }

  state(now: number): Liveness {
    if (this.last === null) return 'starting';
    const phi = this.phi(now);
    return phi >= this.opts.threshold ? 'down' : phi >= this.opts.suspectThreshold ? 'suspect' : 'alive';
  }

  /**
   * When the agent becomes suspect and down if no heartbeat comes (absolute ms), or null before
   * the first heartbeat: the router sets a timer for these instead of polling `phi`. Both move
   * with every heartbeat.
   */
  deadlines(): { suspectAt: number; downAt: number } | null {
    if (this.last === null) return null;
    const { mean, stdDev } = this.distribution();
    return { suspectAt: this.last + silenceFor(this.opts.suspectThreshold, mean, stdDev), downAt: this.last + silenceFor(this.opts.threshold, mean, stdDev) };
  }

  /** Mean (the acceptable pause included) and standard deviation the detector uses, ms. */
  distribution(): { mean: number; stdDev: number } {
    const mean = this.sum / this.count;
    const variance = Math.max(0, this.sumSquares / this.count - mean * mean);
    return { mean: mean + this.opts.acceptablePauseMs, stdDev: Math.max(Math.sqrt(variance), this.opts.minStdDevMs) };
  }

  private record(interval: number): void {
    if (this.count === this.intervals.length) {
      const old = this.intervals[this.nextSlot]!;
      this.sum -= old;
      this.sumSquares -= old * old;
    } else {
      this.count++;
    }
    this.intervals[this.nextSlot] = interval;
    this.nextSlot = (this.nextSlot + 1) % this.intervals.length;
    this.sum += interval;
    this.sumSquares += interval * interval;
    if (this.nextSlot === 0) this.resum(); // once per window: running sums never drift
  }

  private resum(): void {
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < this.count; i++) {
      const v = this.intervals[i]!;
      sum += v;
      squares += v * v;
    }
    this.sum = sum;
    this.sumSquares = squares;
  }
}
