// What the router does with a failed attempt: try the next candidate, or give the caller the
// error. At most once by default (ARCHITECTURE.md, "Request semantics"):
// - A call no agent ran may always go elsewhere: it was never dispatched (connect failure,
//   AGENT_UNAVAILABLE before sending, the breaker refused it at dispatch, a pipelined call that had
//   not started when its connection broke), or the agent answered with a code it only gives to
//   calls it never started (DRAINING, QUEUE_FULL, QUEUE_TIMEOUT, UNAVAILABLE).
// - A call that may have run (dispatched, then WORKER_CRASHED, or AGENT_UNAVAILABLE when the
//   connection broke mid-call) is retried only when the caller marked it idempotent.
// - Never retried: the call's own outcome (a tool's error, bad arguments, …), the caller's
//   choice (CANCELLED, WORKER_BUSY under strict-fail-fast), a deadline already spent (TIMEOUT).
// Attempts are bounded, with full-jitter exponential backoff between them (the delay a random
// fraction of base·2^(n-1), capped), and a retry budget, gRPC's retry throttling: a bucket of
// `maxTokens`; every failed attempt takes 1, every success gives back `ratio`, and retries are
// allowed only while more than half the tokens are left. In a healthy cluster that never binds;
// when every call fails, retries stop after a few, and the extra load stays near `ratio` of the
// calls that succeed (~10 %) instead of multiplying by the number of attempts.
//
// Pure: the router records each attempt's outcome in the budget, asks `retryDecision`, waits the
// delay and places the call again, skipping the agents it already tried (placement's fallback
// order). A strict session whose owner is not reachable is placement's case (ownerChanged).
import { DEFAULTS } from '../defaults.js';
import { SnakepitError, type ErrorCode } from '../errors.js';

export interface RetryOptions {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  /** Backoff cap before the first retry, ms; doubles per retry. */
  backoffMs: number;
  /** Largest backoff cap, ms. */
  backoffMaxMs: number;
}

export const RETRY_DEFAULTS: Readonly<RetryOptions> = {
  maxAttempts: DEFAULTS.retryMaxAttempts,
  backoffMs: DEFAULTS.retryBackoffMs,
  backoffMaxMs: DEFAULTS.retryBackoffMaxMs,
};

/** Codes that say the agent could not take or finish the call: worth another agent. */
export const RETRYABLE_CODES: readonly ErrorCode[] = ['AGENT_UNAVAILABLE', 'UNAVAILABLE', 'DRAINING', 'QUEUE_FULL', 'QUEUE_TIMEOUT', 'WORKER_CRASHED'];

/** Codes an agent gives only to calls it never started, so they never ran even when dispatched. */
export const NEVER_RAN_CODES: readonly ErrorCode[] = ['UNAVAILABLE', 'DRAINING', 'QUEUE_FULL', 'QUEUE_TIMEOUT'];

export interface FailedAttempt {
  code: string;
  /** Whether the call was sent to an agent (it may then have started). */
  dispatched: boolean;
}

export interface RetryContext {
  /** Attempts made so far, the failed one included (1 after the first). */
  attempts: number;
  /** The caller marked the call safe to run twice. */
  idempotent: boolean;
  /** Time left before the call's deadline, ms, or null without one. */
  timeLeftMs: number | null;
}

export type RetryDecision =
  | { retry: true; delayMs: number }
  | {
      retry: false;
      /** `final`: the code is not worth a retry; `may-have-run`: dispatched, not idempotent; the others: a bound reached. */
      reason: 'final' | 'may-have-run' | 'attempts' | 'budget' | 'deadline';
    };

/** Whether an attempt that failed with `code` may have run on the agent. */
export function mayHaveRun(f: FailedAttempt): boolean {
  return f.dispatched && !(NEVER_RAN_CODES as readonly string[]).includes(f.code);
}

/**
 * Whether and when to try the call again after a failed attempt. Reads the budget, never changes
 * it: record the attempt's outcome in it (`budget.record(code)`) before asking.
 */
export function retryDecision(f: FailedAttempt, ctx: RetryContext, budget: RetryBudget, random: () => number, opts: RetryOptions = RETRY_DEFAULTS): RetryDecision {
  if (!(RETRYABLE_CODES as readonly string[]).includes(f.code)) return { retry: false, reason: 'final' };
  if (mayHaveRun(f) && !ctx.idempotent) return { retry: false, reason: 'may-have-run' };
  if (ctx.attempts >= opts.maxAttempts) return { retry: false, reason: 'attempts' };
  if (!budget.allowsRetry()) return { retry: false, reason: 'budget' };
  const delayMs = backoffDelay(ctx.attempts, random, opts);
  if (ctx.timeLeftMs !== null && delayMs >= ctx.timeLeftMs) return { retry: false, reason: 'deadline' };
  return { retry: true, delayMs };
}

/** Full-jitter backoff before retry number `retry` (1 = the first): random in [0, min(max, base·2^(retry-1))), whole ms. */
export function backoffDelay(retry: number, random: () => number, opts: RetryOptions = RETRY_DEFAULTS): number {
  const cap = Math.min(opts.backoffMaxMs, opts.backoffMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * cap);
}

/**
 * gRPC's retry throttling, one per router (or per cluster the router serves). Kept in thousandths
 * of a token, as gRPC does, so 0.1 per success adds up exactly.
 */
export class RetryBudget {
  private readonly max: number;
  private readonly refill: number;
  private milli: number;

  constructor(maxTokens: number = DEFAULTS.retryBudgetTokens, ratio: number = DEFAULTS.retryBudgetRatio) {
    if (!(maxTokens > 0 && maxTokens <= 1000 && ratio > 0 && ratio <= maxTokens)) {
      throw new SnakepitError('CONFIG_INVALID', `retry budget: need 0 < maxTokens <= 1000 and 0 < ratio <= maxTokens (got ${maxTokens}, ${ratio})`);
    }
    this.max = Math.round(maxTokens * 1000);
    this.refill = Math.round(ratio * 1000);
    this.milli = this.max;
  }

  get tokens(): number {
    return this.milli / 1000;
  }

  /** Retries are allowed while more than half the tokens are left. */
  allowsRetry(): boolean {
    return this.milli * 2 > this.max;
  }

  onFailure(): void {
    this.milli = Math.max(0, this.milli - 1000);
  }

  onSuccess(): void {
    this.milli = Math.min(this.max, this.milli + this.refill);
  }

  /**
   * Records an attempt's outcome: `code` null for success. A retryable code or TIMEOUT (the
   * cluster could not take or finish the call) is a failure; a cancelled attempt says nothing; any
   * other answer (a tool's error included) shows the cluster working: a success.
   */
  record(code: string | null): void {
    if (code === 'CANCELLED') return;
    if (code !== null && (code === 'TIMEOUT' || (RETRYABLE_CODES as readonly string[]).includes(code))) this.onFailure();
    else this.onSuccess();
  }
}
