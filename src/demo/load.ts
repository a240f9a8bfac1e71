// The mixed load of `snakepit cluster demo`: `requests` calls, at most `concurrency` in flight,
// through any client (the demo's is `connect({ home })` to the router). One call in four is a
// session call (the demo `counter`, round-robin over a few sessions); the others are sessionless
// `sleep`s of a few ms, a stand-in for real work that keeps calls in flight on every agent, so a
// killed agent always takes some with it.
//
// Every call is marked idempotent. For the sessionless ones that is true of the tools. For the
// session calls it is true of what anyone can see: the counter lives in the session's worker, so
// an attempt that ran on an agent that then died took its effect with it; running it again on
// another agent cannot count twice. (Without it, the router correctly gives a session call that
// was in flight on the dead agent AGENT_UNAVAILABLE: it may have run.)
//
// "Lost" is a call that was started and never answered. Every call's promise is tracked; the load
// ends when all have settled, or when none has settled for `stallMs` while some are pending: those
// are lost (and cancelled, so nothing is left behind).
import { setMaxListeners } from 'node:events';
import type { CallOptions } from '../client/types.js';

export interface LoadClient {
  execute(tool: string, args?: Record<string, unknown>, options?: CallOptions): Promise<unknown>;
}

export interface LoadPlan {
  requests: number;
  concurrency: number;
  /** Session ids of the session calls. */
  sessions: readonly string[];
  /** How long each sessionless call works, ms. */
  workMs: number;
  /** A load with pending calls and no answer for this long ends; they count as lost. */
  stallMs: number;
}

export interface LoadCounts {
  started: number;
  succeeded: number;
  failed: number;
  inFlight: number;
  /** Failed calls by error code. */
  errors: Record<string, number>;
}

export interface LoadResult extends LoadCounts {
  /** Started and never answered. */
  lost: number;
  /** The load was stopped (Ctrl-C) before every call was started. */
  stopped: boolean;
  /** When each session's calls started (load clock), for "which sessions moved". */
  sessionCalls: ReadonlyMap<string, readonly number[]>;
  startedAt: number;
  endedAt: number;
}

export interface PlannedCall {
  tool: string;
  args: Record<string, unknown>;
  session: string | null;
}

/** Call number `i` of the load (pure): every fourth a session's counter, the rest sleeps. */
export function plannedCall(i: number, plan: Pick<LoadPlan, 'sessions' | 'workMs'>): PlannedCall {
  if (i % 4 === 0 && plan.sessions.length > 0) return { tool: 'counter', args: {}, session: plan.sessions[(i / 4) % plan.sessions.length]! };
  return { tool: 'sleep', args: { seconds: plan.workMs / 1000 }, session: null };
}

export interface LoadHooks {
  /** Called as call `index` starts (the demo kills an agent at the midpoint). */
  onStart?: (index: number) => void;
  now?: () => number;
}

export class MixedLoad {
  private readonly counts: LoadCounts = { started: 0, succeeded: 0, failed: 0, inFlight: 0, errors: {} };
  private readonly abort = new AbortController();
  private readonly sessionCalls = new Map<string, number[]>();
  private readonly now: () => number;
  private stopping = false;
  private lastSettled = 0;

  constructor(
    private readonly client: LoadClient,
    private readonly plan: LoadPlan,
    private readonly hooks: LoadHooks = {},
  ) {
    this.now = hooks.now ?? (() => performance.now());
    // One signal for every call in flight, each listening to it: not a leak.
    setMaxListeners(Math.max(10, plan.concurrency + 10), this.abort.signal);
  }

  /** The counts so far (a copy). */
  snapshot(): LoadCounts {
    return { ...this.counts, errors: { ...this.counts.errors } };
  }

  /** Starts no more calls and cancels those in flight (Ctrl-C). */
  stop(): void {
    this.stopping = true;
    this.abort.abort();
  }

  async run(): Promise<LoadResult> {
    const startedAt = this.now();
    this.lastSettled = startedAt;
    let next = 0;
    const pending = new Set<number>();
    const loop = async (): Promise<void> => {
      while (!this.stopping && next < this.plan.requests) {
        const i = next++;
        const call = plannedCall(i, this.plan);
        this.counts.started++;
        this.counts.inFlight++;
        pending.add(i);
        if (call.session !== null) {
          const times = this.sessionCalls.get(call.session) ?? [];
          times.push(this.now());
          this.sessionCalls.set(call.session, times);
        }
        this.hooks.onStart?.(i);
        const options: CallOptions = { idempotent: true, signal: this.abort.signal, ...(call.session !== null ? { session: call.session } : {}) };
        try {
          await this.client.execute(call.tool, call.args, options);
          if (pending.delete(i)) this.counts.succeeded++;
        } catch (err) {
          if (pending.delete(i)) {
            this.counts.failed++;
            const code = (err as { code?: unknown }).code;
            const key = typeof code === 'string' ? code : 'INTERNAL';
            this.counts.errors[key] = (this.counts.errors[key] ?? 0) + 1;
          }
        } finally {
          this.counts.inFlight = pending.size;
          this.lastSettled = this.now();
        }
      }
    };
    const loops = Promise.all(Array.from({ length: Math.max(1, this.plan.concurrency) }, loop));
    // A call that never answers would hold its loop forever: watch for a load that stopped moving.
    let stalled = false;
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (pending.size > 0 && this.now() - this.lastSettled > this.plan.stallMs) {
          stalled = true;
          clearInterval(timer);
          resolve();
        }
      }, Math.min(250, this.plan.stallMs));
      void loops.then(() => {
        clearInterval(timer);
        resolve();
      });
    });
    const lost = stalled ? pending.size : 0;
    if (stalled) {
      // Counted as lost now; whatever answers later is ignored (pending no longer holds it).
      pending.clear();
      this.stopping = true;
      this.abort.abort();
    }
    this.counts.inFlight = 0;
    return { ...this.snapshot(), lost, stopped: this.stopping && !stalled, sessionCalls: this.sessionCalls, startedAt, endedAt: this.now() };
  }
}
