// Which calls a dead worker never started, and what becomes of them. Pure: no clock, no pool.
//
// A worker runs calls in the order it receives them and writes a call's last answer before its
// thread takes the next call (docs/worker-protocol.md, "Ordering"). So with `capacity` call
// threads, only the `capacity` oldest calls it has not answered can have started; every later
// one was still waiting inside the worker (pipelined) when it died. Those never ran: they go back
// to the pool's queue instead of failing with WORKER_CRASHED, keeping their deadline and their
// session's rules, a bounded number of times.
import type { ErrorInfo } from '../errors.js';
import { count } from '../text.js';

/**
 * Splits a dead worker's unanswered calls, oldest (first sent) first, into those that may have
 * started and those that cannot have. `answersComplete` is false when some of the worker's
 * answers may be lost (its channel broke, or its output was not read to the end): then nothing
 * is known, and every call counts as possibly started.
 */
export function splitUnanswered<T>(unanswered: readonly T[], capacity: number, answersComplete: boolean): { mayHaveStarted: T[]; neverStarted: T[] } {
  const n = answersComplete ? Math.max(1, capacity) : unanswered.length;
  return { mayHaveStarted: unanswered.slice(0, n), neverStarted: unanswered.slice(n) };
}

export interface NeverStartedCall {
  tool: string;
  session: string | null;
  /** Absolute deadline (ms, same clock as `now`) or null. */
  deadline: number | null;
  /** Times this call already went back to the queue. */
  requeues: number;
}

export interface RequeueContext {
  now: number;
  pool: string;
  /** The pool is stopping: nothing is requeued. */
  stopping: boolean;
  maxRequeues: number;
  /**
   * The call's session lost its worker (the one that died) and the pool's affinity is strict:
   * its state is gone, so the call fails as strict sessions do (SESSION_WORKER_LOST).
   */
  strictSessionLost: boolean;
  /** The worker that died with the call inside (for the message). */
  workerId: string;
}

export type RequeueVerdict = { requeue: true } | { requeue: false; error: ErrorInfo };

/** What becomes of a call that a dead worker never started. */
export function requeueVerdict(call: NeverStartedCall, ctx: RequeueContext): RequeueVerdict {
  const never = `it never started: worker ${ctx.workerId} died before reaching it`;
  if (ctx.stopping) return { requeue: false, error: { code: 'UNAVAILABLE', message: `pool '${ctx.pool}' is stopping; the call to '${call.tool}' was not run (${never})` } };
  if (call.deadline !== null && call.deadline <= ctx.now) {
    return { requeue: false, error: { code: 'TIMEOUT', message: `call to '${call.tool}' timed out before it could start (${never})` } };
  }
  if (ctx.strictSessionLost) {
    return { requeue: false, error: { code: 'SESSION_WORKER_LOST', message: `the worker of session '${call.session}' is gone (its session state with it); the call to '${call.tool}' was not run (${never})` } };
  }
  if (call.requeues >= ctx.maxRequeues) {
    return {
      requeue: false,
      error: { code: 'UNAVAILABLE', message: `call to '${call.tool}' was not run: ${count(call.requeues + 1, 'worker')} it was queued on died before reaching it (maxRequeues ${ctx.maxRequeues})` },
    };
  }
  return { requeue: true };
}
