// retry.ts: the decision table, the backoff and the retry budget under failure storms.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RETRY_DEFAULTS, RetryBudget, backoffDelay, mayHaveRun, retryDecision, type RetryContext } from '../../src/cluster/retry.js';
import { seededRandom } from './cluster-rng.js';

const half = () => 0.5;
const ctx = (over: Partial<RetryContext> = {}): RetryContext => ({ attempts: 1, idempotent: false, timeLeftMs: null, ...over });

type Row = [code: string, dispatched: boolean, idempotent: boolean, want: string];

describe('retryDecision: the table', () => {
  // code, dispatched, idempotent → retried?
  it.each<Row>([
    // never dispatched: always safe to go elsewhere
    ['AGENT_UNAVAILABLE', false, false, 'retry'],
    ['DRAINING', false, false, 'retry'],
    ['QUEUE_FULL', false, false, 'retry'],
    ['UNAVAILABLE', false, false, 'retry'],
    ['WORKER_CRASHED', false, false, 'retry'],
    // dispatched, but the agent says it never started it
    ['DRAINING', true, false, 'retry'],
    ['QUEUE_FULL', true, false, 'retry'],
    ['QUEUE_TIMEOUT', true, false, 'retry'],
    ['UNAVAILABLE', true, false, 'retry'],
    // dispatched and may have run: only when idempotent
    ['AGENT_UNAVAILABLE', true, false, 'may-have-run'],
    ['AGENT_UNAVAILABLE', true, true, 'retry'],
    ['WORKER_CRASHED', true, false, 'may-have-run'],
    ['WORKER_CRASHED', true, true, 'retry'],
    // the call's own outcome, the caller's choice, a spent deadline: never
    ...['PYTHON_EXCEPTION', 'INVALID_ARGUMENTS', 'TOOL_NOT_FOUND', 'TIMEOUT', 'CANCELLED', 'WORKER_BUSY', 'SESSION_WORKER_LOST', 'PAYLOAD_TOO_LARGE', 'UNAUTHENTICATED', 'SLOW_CONSUMER', 'INTERNAL', 'SOMETHING_NEW'].flatMap((code): Row[] => [
      [code, false, false, 'final'],
      [code, true, true, 'final'],
    ]),
  ])('%s (dispatched %s, idempotent %s) → %s', (code, dispatched, idempotent, want) => {
    const d = retryDecision({ code, dispatched }, ctx({ idempotent }), new RetryBudget(), half);
    expect(d.retry ? 'retry' : d.reason).toBe(want);
  });

  it('mayHaveRun: dispatched, and not a code an agent gives only to calls it never started', () => {
    expect(mayHaveRun({ code: 'WORKER_CRASHED', dispatched: true })).toBe(true);
    expect(mayHaveRun({ code: 'QUEUE_FULL', dispatched: true })).toBe(false);
    expect(mayHaveRun({ code: 'WORKER_CRASHED', dispatched: false })).toBe(false);
  });

  it('stops at 3 attempts in all', () => {
    const f = { code: 'AGENT_UNAVAILABLE', dispatched: false };
    expect(RETRY_DEFAULTS.maxAttempts).toBe(3);
    expect(retryDecision(f, ctx({ attempts: 2 }), new RetryBudget(), half).retry).toBe(true);
    expect(retryDecision(f, ctx({ attempts: 3 }), new RetryBudget(), half)).toEqual({ retry: false, reason: 'attempts' });
    expect(retryDecision(f, ctx({ attempts: 3 }), new RetryBudget(), half, { ...RETRY_DEFAULTS, maxAttempts: 5 }).retry).toBe(true);
  });

  it('does not retry when the backoff would outlast the deadline', () => {
    const f = { code: 'AGENT_UNAVAILABLE', dispatched: false };
    expect(retryDecision(f, ctx({ timeLeftMs: 25 }), new RetryBudget(), half)).toEqual({ retry: false, reason: 'deadline' }); // delay 25 ms
    expect(retryDecision(f, ctx({ timeLeftMs: 26 }), new RetryBudget(), half)).toEqual({ retry: true, delayMs: 25 });
    expect(retryDecision(f, ctx({ timeLeftMs: 0 }), new RetryBudget(), () => 0)).toEqual({ retry: false, reason: 'deadline' });
  });

  it('does not retry while the budget is at or below half', () => {
    const b = new RetryBudget();
    for (let i = 0; i < 5; i++) b.record('AGENT_UNAVAILABLE');
    expect(b.tokens).toBe(5);
    expect(retryDecision({ code: 'AGENT_UNAVAILABLE', dispatched: false }, ctx(), b, half)).toEqual({ retry: false, reason: 'budget' });
    expect(b.tokens).toBe(5); // asking changes nothing
  });
});

describe('backoffDelay', () => {
  it('is a random delay below 50 ms, doubling per retry, capped at 1 s', () => {
    const below1 = () => 0.999_999;
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, below1))).toEqual([49, 99, 199, 399, 799, 999, 999, 999]);
    expect(backoffDelay(1, () => 0)).toBe(0);
    expect(backoffDelay(2, half)).toBe(50);
  });

  it('spreads delays over [0, cap) (full jitter), whole milliseconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (retry, u) => {
        const d = backoffDelay(retry, () => u);
        const cap = Math.min(1000, 50 * 2 ** (retry - 1));
        expect(Number.isInteger(d) && d >= 0 && d < cap).toBe(true);
      }),
      { seed: 15, numRuns: 500 },
    );
  });
});

describe('RetryBudget', () => {
  it('holds 10 tokens; a failure takes 1, a success gives back 0.1, exactly', () => {
    const b = new RetryBudget();
    expect(b.tokens).toBe(10);
    b.record(null); // full: stays 10
    expect(b.tokens).toBe(10);
    for (let i = 0; i < 12; i++) b.record('WORKER_CRASHED');
    expect(b.tokens).toBe(0); // never below 0
    for (let i = 0; i < 30; i++) b.record(null);
    expect(b.tokens).toBe(3);
  });

  it('counts retryable codes and TIMEOUT as failures, a tool error as a success, a cancellation as nothing', () => {
    const b = new RetryBudget();
    b.record('TIMEOUT');
    b.record('QUEUE_FULL');
    expect(b.tokens).toBe(8);
    b.record('PYTHON_EXCEPTION');
    expect(b.tokens).toBe(8.1);
    b.record('CANCELLED');
    expect(b.tokens).toBe(8.1);
  });

  it('allows retries only while more than half is left, and recovers after successes', () => {
    const b = new RetryBudget();
    for (let i = 0; i < 4; i++) b.record('AGENT_UNAVAILABLE');
    expect(b.allowsRetry()).toBe(true); // 6
    b.record('AGENT_UNAVAILABLE');
    expect(b.allowsRetry()).toBe(false); // 5: not more than half
    b.record(null);
    expect(b.allowsRetry()).toBe(true); // 5.1
    for (let i = 0; i < 10; i++) b.record('AGENT_UNAVAILABLE');
    expect(b.tokens).toBe(0);
    for (let i = 0; i < 50; i++) b.record(null);
    expect(b.allowsRetry()).toBe(false); // 5.0
    b.record(null);
    expect(b.allowsRetry()).toBe(true); // 5.1: 51 successes after a storm
  });

  it('rejects a budget it cannot keep', () => {
    expect(() => new RetryBudget(0)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new RetryBudget(10, 0)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

/**
 * `calls` calls through the router's loop: each attempt fails with probability `failRate` (never
 * dispatched, so always eligible for a retry), outcomes recorded in the budget, retried while
 * retryDecision says so. Returns attempts beyond one per call, and successes.
 */
function storm(budget: RetryBudget, calls: number, failRate: number, random: () => number): { extra: number; successes: number; failedCalls: number } {
  let extra = 0;
  let successes = 0;
  let failedCalls = 0;
  for (let c = 0; c < calls; c++) {
    for (let attempts = 1; ; attempts++) {
      if (attempts > 1) extra++;
      const failed = random() < failRate;
      budget.record(failed ? 'AGENT_UNAVAILABLE' : null);
      if (!failed) {
        successes++;
        break;
      }
      const d = retryDecision({ code: 'AGENT_UNAVAILABLE', dispatched: false }, { attempts, idempotent: false, timeLeftMs: null }, budget, random);
      if (!d.retry) {
        failedCalls++;
        break;
      }
    }
  }
  return { extra, successes, failedCalls };
}

describe('the retry budget under failure storms (1 000 calls)', () => {
  it('a 100 % failure storm gets no more than ~10 % extra attempts (here: 3 in all)', () => {
    const { extra, failedCalls } = storm(new RetryBudget(), 1000, 1, seededRandom(1));
    expect(extra).toBeLessThanOrEqual(100);
    expect(extra).toBe(3); // 10 → 9 → 8 → 7 (3 attempts), → 6 → 5 (one more), then no retry at all
    expect(failedCalls).toBe(1000);
  });

  it.each([0.2, 0.5, 0.8, 0.95])('with %f of attempts failing, extra attempts stay within ~10 %% of the calls', (rate) => {
    for (const seed of [1, 2, 3]) {
      const { extra } = storm(new RetryBudget(), 1000, rate, seededRandom(seed));
      expect(extra / 1000, `seed ${seed}`).toBeLessThanOrEqual(0.1 + 0.005);
    }
  });

  it('does not bind in a healthy cluster: with 2 % of attempts failing, every failed call is retried', () => {
    const { failedCalls, extra } = storm(new RetryBudget(), 1000, 0.02, seededRandom(4));
    expect(extra).toBeGreaterThan(5);
    expect(failedCalls).toBe(0);
  });

  it('recovers: after a storm, successes restore retries', () => {
    const b = new RetryBudget();
    storm(b, 1000, 1, seededRandom(5));
    expect(b.allowsRetry()).toBe(false);
    const after = storm(b, 1000, 0.02, seededRandom(6));
    expect(b.allowsRetry()).toBe(true);
    expect(after.extra).toBeGreaterThan(5);
  });

  it('property: retries never exceed 5 + 0.1 × successes, whatever the failure pattern', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), fc.integer({ min: 1, max: 2000 }), (rate, seed, calls) => {
        const { extra, successes } = storm(new RetryBudget(), calls, rate, seededRandom(seed));
        expect(extra).toBeLessThanOrEqual(5 + 0.1 * successes);
      }),
      { seed: 16, numRuns: 200 },
    );
  });

  it('the budget is what bounds it: without one, a storm triples the attempts', () => {
    const unbounded = { record() {}, allowsRetry: () => true } as unknown as RetryBudget;
    expect(storm(unbounded, 1000, 1, seededRandom(7)).extra).toBe(2000);
  });
});
