// breaker.ts: the per-agent circuit breaker, driven by an injected clock.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AGENT_FAILURE_CODES, BREAKER_DEFAULTS, CircuitBreaker, breakerOutcome } from '../../src/cluster/breaker.js';

/** Runs one admitted call to completion at `now` with `code` (null = success); false when refused. */
function run(b: CircuitBreaker, now: number, code: string | null): boolean {
  const t = b.admit(now);
  if (t === null) return false;
  b.record(t, code, now);
  return true;
}

/** `ok` successes then `bad` agent-caused failures, spread over [from, from + spanMs). */
function traffic(b: CircuitBreaker, from: number, ok: number, bad: number, spanMs = 1000, code = 'WORKER_CRASHED'): void {
  const n = ok + bad;
  for (let i = 0; i < n; i++) run(b, from + (i * spanMs) / n, i < ok ? null : code);
}

describe('breakerOutcome', () => {
  it('counts only agent-caused errors against the agent', () => {
    expect(AGENT_FAILURE_CODES).toEqual(['AGENT_UNAVAILABLE', 'WORKER_CRASHED', 'TIMEOUT']);
    for (const code of AGENT_FAILURE_CODES) expect(breakerOutcome(code)).toBe('failure');
    for (const code of [null, 'PYTHON_EXCEPTION', 'INVALID_ARGUMENTS', 'TOOL_NOT_FOUND', 'QUEUE_FULL', 'SESSION_WORKER_LOST']) expect(breakerOutcome(code)).toBe('success');
    expect(breakerOutcome('CANCELLED')).toBe('neutral');
  });
});

describe('CircuitBreaker', () => {
  it('uses the named defaults', () => {
    expect(BREAKER_DEFAULTS).toEqual({ windowMs: 10_000, minCalls: 20, failureRatio: 0.5, openMs: 5_000 });
  });

  it('opens at 50 % agent-caused failures over 20 calls', () => {
    const b = new CircuitBreaker();
    traffic(b, 0, 10, 9);
    expect(b.state(1000)).toBe('closed'); // 19 calls: too few to judge
    run(b, 1000, 'TIMEOUT'); // 10 of 20
    expect(b.state(1000)).toBe('open');
    expect(b.admit(1000)).toBeNull();
    expect(b.view(1000)).toBe('open');
  });

  it('opens when a success brings the volume to 20 with the ratio already met', () => {
    const b = new CircuitBreaker();
    traffic(b, 0, 0, 10);
    traffic(b, 100, 9, 0);
    expect(b.state(200)).toBe('closed'); // 10 of 19
    run(b, 200, null); // 10 of 20
    expect(b.state(200)).toBe('open');
  });

  it('stays closed just under the ratio, or under the volume however bad', () => {
    const b = new CircuitBreaker();
    traffic(b, 0, 11, 9); // 45 %
    expect(b.state(1000)).toBe('closed');
    const few = new CircuitBreaker();
    traffic(few, 0, 0, 19); // 100 % of 19
    expect(few.state(1000)).toBe('closed');
    expect(few.counts(1000)).toEqual({ calls: 19, failures: 19 });
  });

  it('never counts a tool error (PYTHON_EXCEPTION, INVALID_ARGUMENTS, TOOL_NOT_FOUND) or a cancellation', () => {
    const b = new CircuitBreaker();
    for (let i = 0; i < 300; i++) run(b, i, ['PYTHON_EXCEPTION', 'INVALID_ARGUMENTS', 'TOOL_NOT_FOUND'][i % 3]!);
    expect(b.state(300)).toBe('closed');
    expect(b.counts(300)).toEqual({ calls: 300, failures: 0 });
    for (let i = 0; i < 300; i++) run(b, 300, 'CANCELLED');
    expect(b.counts(300).calls).toBe(300);
  });

  it('counts over a 10 s sliding window: failures older than that are forgotten, even after a silence', () => {
    const b = new CircuitBreaker();
    traffic(b, 0, 0, 19); // 19 failures at t in [0, 1 s)
    expect(b.counts(5_000)).toEqual({ calls: 19, failures: 19 });
    expect(b.counts(11_000)).toEqual({ calls: 0, failures: 0 });
    // 40 s of silence, then one failure: it is 1 of 1, nowhere near 20 calls (cockatiel 3 opens here)
    run(b, 41_000, 'AGENT_UNAVAILABLE');
    expect(b.state(41_000)).toBe('closed');
    expect(b.counts(41_000)).toEqual({ calls: 1, failures: 1 });
  });

  it('opens on failures spread over the window, but not on ones spread wider', () => {
    const inside = new CircuitBreaker();
    traffic(inside, 0, 10, 10, 9_800); // 20 calls within 9.8 s
    expect(inside.state(9_800)).toBe('open');
    const wider = new CircuitBreaker();
    traffic(wider, 0, 0, 10, 1_000); // failures at [0, 1 s) …
    traffic(wider, 11_000, 10, 10, 1_000); // … and 11 s later: only the later 20 are in the window
    expect(wider.counts(12_000)).toEqual({ calls: 20, failures: 10 });
    expect(wider.state(12_000)).toBe('open'); // 10 of 20 is 50 %
    const wider2 = new CircuitBreaker();
    traffic(wider2, 0, 0, 10, 1_000);
    traffic(wider2, 11_000, 11, 9, 1_000);
    expect(wider2.state(12_000)).toBe('closed'); // 9 of 20: the 10 old ones no longer count
  });

  it('half-opens after 5 s and lets exactly one probe through at a time', () => {
    const b = new CircuitBreaker();
    traffic(b, 0, 0, 20);
    const openedAt = 1000 * (19 / 20);
    expect(b.state(openedAt + 4_999)).toBe('open');
    expect(b.admit(openedAt + 4_999)).toBeNull();
    expect(b.state(openedAt + 5_000)).toBe('half-open');
    expect(b.view(openedAt + 5_000)).toBe('half-open');
    const probe = b.admit(openedAt + 5_000)!;
    expect(probe.probe).toBe(true);
    expect(b.admit(openedAt + 5_001)).toBeNull(); // the slot is taken …
    expect(b.view(openedAt + 5_001)).toBe('open'); // … so placement sees no room
    expect(b.state(openedAt + 5_001)).toBe('half-open');
  });

  it("the probe's success closes it, with a fresh window", () => {
    const b = new CircuitBreaker();
    traffic(b, 0, 0, 20);
    const probe = b.admit(6_000)!;
    b.record(probe, null, 6_100);
    expect(b.state(6_100)).toBe('closed');
    expect(b.counts(6_100)).toEqual({ calls: 0, failures: 0 });
    run(b, 6_200, 'WORKER_CRASHED'); // one failure after closing does not re-open it
    expect(b.state(6_200)).toBe('closed');
    expect(b.admit(6_200)).toMatchObject({ probe: false });
  });

  it('a probe answered with a tool error closes it too (the agent works)', () => {
    const b = new CircuitBreaker();
    traffic(b, 0, 0, 20);
    b.record(b.admit(6_000)!, 'PYTHON_EXCEPTION', 6_050);
    expect(b.state(6_050)).toBe('closed');
  });

  it("the probe's failure re-opens it for another 5 s", () => {
    const b = new CircuitBreaker();
    traffic(b, 0, 0, 20);
    b.record(b.admit(6_000)!, 'TIMEOUT', 7_000);
    expect(b.state(7_000)).toBe('open');
    expect(b.state(11_999)).toBe('open');
    expect(b.admit(11_999)).toBeNull();
    expect(b.state(12_000)).toBe('half-open');
    expect(b.admit(12_000)).toMatchObject({ probe: true });
  });

  it('a cancelled probe frees the slot and decides nothing', () => {
    const b = new CircuitBreaker();
    traffic(b, 0, 0, 20);
    b.record(b.admit(6_000)!, 'CANCELLED', 6_010);
    expect(b.state(6_010)).toBe('half-open');
    expect(b.admit(6_010)).toMatchObject({ probe: true });
  });

  it('ignores outcomes of calls admitted before the breaker opened or closed', () => {
    const b = new CircuitBreaker();
    const late = Array.from({ length: 30 }, () => b.admit(0)!); // in flight while it opens
    traffic(b, 0, 0, 20);
    expect(b.state(100)).toBe('open');
    for (const t of late) b.record(t, null, 200); // their successes do not close it …
    expect(b.state(200)).toBe('open');
    b.record(b.admit(6_000)!, null, 6_000); // closed by the probe
    for (const t of late) b.record(t, 'WORKER_CRASHED', 6_100); // … nor do their failures re-open it
    expect(b.state(6_100)).toBe('closed');
    expect(b.counts(6_100)).toEqual({ calls: 0, failures: 0 });
  });

  it('tolerates a clock that goes back (counts in the newest bucket)', () => {
    const b = new CircuitBreaker();
    traffic(b, 5_000, 0, 10);
    traffic(b, 1_000, 0, 10); // earlier timestamps
    expect(b.state(6_000)).toBe('open');
  });

  it('honours its options', () => {
    const b = new CircuitBreaker({ minCalls: 4, failureRatio: 0.75, windowMs: 1_000, openMs: 100 });
    traffic(b, 0, 1, 2, 10); // 2 of 3: too few
    run(b, 10, 'AGENT_UNAVAILABLE'); // 3 of 4 = 75 %
    expect(b.state(10)).toBe('open');
    expect(b.state(110)).toBe('half-open');
    expect(() => new CircuitBreaker({ failureRatio: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new CircuitBreaker({ minCalls: 0 })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });

  it('property: it opens exactly when the last 10 s held ≥ 20 calls with ≥ 50 % agent-caused failures', () => {
    // Calls at increasing times (multiples of the 100 ms bucket, so "the window" is exact), each a
    // success, an agent-caused failure or a tool error; compared with a naive count over the window.
    const step = fc.record({ gap: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 5 }), weight: 9 }, { arbitrary: fc.integer({ min: 0, max: 150 }), weight: 1 }).map((n) => n * 100), code: fc.constantFrom(null, 'TIMEOUT', 'WORKER_CRASHED', 'AGENT_UNAVAILABLE', 'PYTHON_EXCEPTION') });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 200, size: 'max' }), (steps) => {
        const b = new CircuitBreaker();
        const seen: { at: number; failed: boolean }[] = [];
        let now = 0;
        for (const { gap, code } of steps) {
          now += gap;
          const admitted = b.admit(now);
          expect(admitted).not.toBeNull(); // closed so far (the run stops where it opens)
          b.record(admitted!, code, now);
          seen.push({ at: now, failed: breakerOutcome(code) === 'failure' });
          const inWindow = seen.filter((s) => s.at > now - 10_000);
          const failed = inWindow.filter((s) => s.failed).length;
          const shouldOpen = inWindow.length >= 20 && failed >= inWindow.length / 2;
          expect(b.state(now) === 'open', `at ${now}: ${failed}/${inWindow.length}`).toBe(shouldOpen);
          if (shouldOpen) return;
        }
      }),
      { seed: 14, numRuns: 300 },
    );
    // The generator reaches both outcomes (else the property would say little).
    const opened = fc.sample(fc.array(step, { minLength: 1, maxLength: 200, size: 'max' }), { seed: 14, numRuns: 300 }).filter((steps) => {
      const b = new CircuitBreaker();
      let now = 0;
      return steps.some(({ gap, code }) => (run(b, (now += gap), code), b.state(now) !== 'closed'));
    }).length;
    expect(opened).toBeGreaterThan(30);
    expect(opened).toBeLessThan(270
    );
  });
});
