// A circuit breaker per agent: stop sending calls to an agent that keeps failing them, then try
// it again with one probe call at a time. Closed → open when at least `failureRatio` of at least
// `minCalls` calls in the last `windowMs` failed for agent-caused reasons (AGENT_UNAVAILABLE,
// WORKER_CRASHED, TIMEOUT; never a tool's own error: an agent that answers PYTHON_EXCEPTION works);
// open → half-open after `openMs`; in half-open exactly one probe call at a time; its success
// closes the breaker, its failure opens it for another `openMs`.
//
// Written here, not taken from cockatiel 3.x (the last major for Node 20), after reading its
// 3.2.1 source, because its breakers cannot meet four requirements:
// - No injected clock: SamplingBreaker and CircuitBreakerPolicy call Date.now() themselves, so
//   tests must fake the global clock and every breaker in the process shares it.
// - The window is not a time window: its buckets rotate one step per call, so after a quiet spell
//   failures far older than `duration` still count (measured: 19 failures, 40 s of silence, one
//   more failure → it opens). And it opens only on strictly more than `threshold`, so "≥ 50 %"
//   would need a threshold just under 0.5.
// - Its only entry is `execute(fn) → Promise`: the router's calls complete through sinks, so each
//   call would need a promise wrapped around it, and the state moves a microtask after the
//   outcome. There is no way to ask "would you admit a call now?" without running one (its
//   `state` stays Open after halfOpenAfter until a call arrives), which placement needs, and in
//   half-open the other calls wait for the probe instead of being refused (placement should send
//   them elsewhere).
// - (Its minimum volume is a rate, `minimumRps`; 2 rps × 10 s does express "≥ 20 calls", and
//   `handleWhen` could pick the error codes: those two would fit.)
// What remains is ~100 lines: bucketed counts and a three-state machine, driven by `now`.
import { DEFAULTS } from '../defaults.js';
import { SnakepitError, type ErrorCode } from '../errors.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Sliding window of the failure count, ms. */
  windowMs: number;
  /** Calls in the window below which the breaker never opens. */
  minCalls: number;
  /** Fraction of failed calls at which it opens (0 < ratio ≤ 1). */
  failureRatio: number;
  /** Time open before a probe may pass, ms. */
  openMs: number;
}

export const BREAKER_DEFAULTS: Readonly<BreakerOptions> = {
  windowMs: DEFAULTS.breakerWindowMs,
  minCalls: DEFAULTS.breakerMinCalls,
  failureRatio: DEFAULTS.breakerFailureRatio,
  openMs: DEFAULTS.breakerOpenMs,
};

/** The codes that count against an agent. */
export const AGENT_FAILURE_CODES: readonly ErrorCode[] = ['AGENT_UNAVAILABLE', 'WORKER_CRASHED', 'TIMEOUT'];

/**
 * What an outcome says about the agent: `failure` for an agent-caused error, `neutral` for a
 * call the caller cancelled (it says nothing either way), else `success` (a result, or an error
 * the agent answered with, a tool's own included). `code` null means the call succeeded.
 */
export function breakerOutcome(code: string | null): 'success' | 'failure' | 'neutral' {
  if (code === null) return 'success';
  if ((AGENT_FAILURE_CODES as readonly string[]).includes(code)) return 'failure';
  return code === 'CANCELLED' ? 'neutral' : 'success';
}

/** Handed out by `admit`, given back to `record` once the call is over, exactly once. */
export interface BreakerTicket {
  /** The breaker's period the call was admitted in: outcomes of an earlier period are ignored. */
  readonly generation: number;
  /** The half-open probe: its outcome decides the breaker's next state. */
  readonly probe: boolean;
}

/** Buckets of the sliding window: it spans between (BUCKETS - 1) and BUCKETS bucket lengths. */
const BUCKETS = 100;

export class CircuitBreaker {
  private readonly opts: BreakerOptions;
  private readonly bucketMs: number;
  private readonly calls = new Uint32Array(BUCKETS);
  private readonly failures = new Uint32Array(BUCKETS);
  private totalCalls = 0;
  private totalFailures = 0;
  /** Absolute index (time / bucketMs) of the newest bucket, or null before the first call. */
  private head: number | null = null;
  private current: 'closed' | 'open' = 'closed';
  private openedAt = 0;
  private probeOut = false;
  private generation = 0;

  constructor(opts: Partial<BreakerOptions> = {}) {
    this.opts = { ...BREAKER_DEFAULTS, ...opts };
    const o = this.opts;
    if (!(o.windowMs > 0 && o.openMs >= 0 && Number.isInteger(o.minCalls) && o.minCalls >= 1 && o.failureRatio > 0 && o.failureRatio <= 1)) {
      throw new SnakepitError('CONFIG_INVALID', `circuit breaker: need windowMs > 0, openMs >= 0, minCalls an integer >= 1, 0 < failureRatio <= 1 (got ${JSON.stringify(o)})`);
    }
    this.bucketMs = o.windowMs / BUCKETS;
  }

  state(now: number): BreakerState {
    if (this.current === 'closed') return 'closed';
    return now - this.openedAt >= this.opts.openMs ? 'half-open' : 'open';
  }

  /** What placement should see: `open` whenever no call would be admitted now (a half-open breaker's probe is out). */
  view(now: number): BreakerState {
    const s = this.state(now);
    return s === 'half-open' && this.probeOut ? 'open' : s;
  }

  /** Lets a call through, or refuses it (null: the router treats the agent as not dispatched to). */
  admit(now: number): BreakerTicket | null {
    const s = this.state(now);
    if (s === 'closed') return { generation: this.generation, probe: false };
    if (s === 'open' || this.probeOut) return null;
    this.probeOut = true;
    return { generation: this.generation, probe: true };
  }

  /** The outcome of an admitted call: `code` null for success, else its error code. */
  record(ticket: BreakerTicket, code: string | null, now: number): void {
    if (ticket.generation !== this.generation) return; // admitted before the last open or close
    const outcome = breakerOutcome(code);
    if (ticket.probe) {
      this.probeOut = false;
      if (outcome === 'success') this.close();
      else if (outcome === 'failure') this.open(now);
      return;
    }
    if (this.current !== 'closed' || outcome === 'neutral') return;
    const slot = this.advance(now);
    this.calls[slot]!++;
    this.totalCalls++;
    if (outcome === 'failure') {
      this.failures[slot]!++;
      this.totalFailures++;
    }
    // Checked after a success too: it can bring the volume up to minCalls with the ratio already met.
    if (this.totalCalls >= this.opts.minCalls && this.totalFailures >= this.opts.failureRatio * this.totalCalls) this.open(now);
  }

  /** Calls and agent-caused failures counted in the window now (what the last decision saw, for stats). */
  counts(now: number): { calls: number; failures: number } {
    if (this.head !== null) this.advance(now);
    return { calls: this.totalCalls, failures: this.totalFailures };
  }

  /** Moves the window to `now` (a clock that went back counts in the newest bucket); returns its slot. */
  private advance(now: number): number {
    const index = Math.floor(now / this.bucketMs);
    if (this.head === null) this.head = index;
    if (index > this.head) {
      const stale = Math.min(index - this.head, BUCKETS);
      for (let i = 1; i <= stale; i++) this.clearSlot(slotOf(this.head + i));
      this.head = index;
    }
    return slotOf(this.head);
  }

  private clearSlot(slot: number): void {
    this.totalCalls -= this.calls[slot]!;
    this.totalFailures -= this.failures[slot]!;
    this.calls[slot] = 0;
    this.failures[slot] = 0;
  }

  private open(now: number): void {
    this.current = 'open';
    this.openedAt = now;
    this.generation++;
  }

  private close(): void {
    this.current = 'closed';
    this.generation++;
    for (let i = 0; i < BUCKETS; i++) this.clearSlot(i); // a fresh start: old failures must not re-open it at once
    this.head = null;
  }
}

const slotOf = (index: number): number => ((index % BUCKETS) + BUCKETS) % BUCKETS;
