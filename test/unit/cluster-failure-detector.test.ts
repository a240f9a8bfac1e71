// failure-detector.ts: the phi-accrual detector on synthetic heartbeat traces. Phi only grows
// during a silence, so a silence's worst moment is the instant before the next heartbeat: the
// traces check phi there (and, where cheap, at every millisecond).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DETECTOR_DEFAULTS, PhiAccrualDetector, phiOf, silenceFor, type Liveness } from '../../src/cluster/failure-detector.js';
import { seededRandom, uniform } from './cluster-rng.js';

const SEEDS = [1, 2, 3, 42, 2024];

/** A detector fed beats at the given arrival times; returns it and the worst phi/state seen just before each beat. */
function feed(arrivals: readonly number[]): { d: PhiAccrualDetector; maxPhi: number; states: Set<Liveness> } {
  const d = new PhiAccrualDetector({}, 0);
  let maxPhi = 0;
  const states = new Set<Liveness>();
  for (const t of arrivals) {
    if (d.lastHeartbeatAt !== null) {
      const before = t - 1e-6; // the worst instant of the silence
      maxPhi = Math.max(maxPhi, d.phi(before));
      states.add(d.state(before));
    }
    d.heartbeat(t);
  }
  return { d, maxPhi, states };
}

/** Beats every `interval()` ms from t = 0 for `count` beats. */
function beats(count: number, interval: () => number, start = 0): number[] {
  const out: number[] = [];
  let t = start;
  for (let i = 0; i < count; i++) out.push((t += interval()));
  return out;
}

/** First ms after `from` at which the state is `s` (no more heartbeats), or -1 within 60 s. */
function msUntil(d: PhiAccrualDetector, from: number, s: Liveness): number {
  for (let dt = 0; dt <= 60_000; dt++) if (d.state(from + dt) === s) return dt;
  return -1;
}

describe('phiOf / silenceFor', () => {
  it('is log10(2) at the mean and grows with the silence, to Infinity for a huge gap', () => {
    expect(phiOf(700, 700, 100)).toBeCloseTo(Math.log10(2), 10);
    expect(phiOf(0, 700, 100)).toBeLessThan(1e-10);
    expect(phiOf(1e12, 700, 100)).toBe(Infinity);
    expect(phiOf(-1e12, 700, 100)).toBe(0);
  });

  it('is monotonic in the silence', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 5000, noNaN: true }), fc.double({ min: 0, max: 5000, noNaN: true }), fc.double({ min: 50, max: 2000, noNaN: true }), fc.double({ min: 1, max: 500, noNaN: true }), (a, b, mean, sd) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(phiOf(lo, mean, sd)).toBeLessThanOrEqual(phiOf(hi, mean, sd) + 1e-12);
      }),
      { seed: 7, numRuns: 500 },
    );
  });

  it('silenceFor inverts phiOf', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.5, max: 15, noNaN: true }), fc.double({ min: 50, max: 5000, noNaN: true }), fc.double({ min: 1, max: 1000, noNaN: true }), (phi, mean, sd) => {
        expect(phiOf(silenceFor(phi, mean, sd), mean, sd)).toBeCloseTo(phi, 6);
      }),
      { seed: 8, numRuns: 500 },
    );
  });
});

describe('PhiAccrualDetector on synthetic traces (200 ms heartbeats)', () => {
  it('uses the named defaults', () => {
    expect(DETECTOR_DEFAULTS).toEqual({ intervalMs: 200, threshold: 8, suspectThreshold: 3, windowSize: 200, minStdDevMs: 100, acceptablePauseMs: 500 });
  });

  it('steady beats: alive at every millisecond', () => {
    const d = new PhiAccrualDetector({}, 0);
    const states = new Set<Liveness>();
    for (let t = 200; t <= 60_000; t += 200) {
      if (t > 200) for (let s = t - 199; s < t; s++) states.add(d.state(s));
      d.heartbeat(t);
    }
    expect([...states]).toEqual(['alive']);
    expect(d.state(60_000)).toBe('alive');
    expect(d.distribution()).toEqual({ mean: 700, stdDev: 100 });
  });

  it('jittery beats (200 ± 60 ms): never suspect or down', () => {
    for (const seed of SEEDS) {
      const r = seededRandom(seed);
      const { maxPhi, states } = feed(beats(3000, () => uniform(r, 140, 260)));
      expect([...states], `seed ${seed}`).toEqual(['alive']);
      expect(maxPhi, `seed ${seed}`).toBeLessThan(0.01);
    }
  });

  it('any interval sequence within 200 ± 60 ms stays alive (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 140, max: 260, noNaN: true }), { minLength: 1, maxLength: 400, size: 'max' }), (intervals) => {
        let t = 0;
        const { states } = feed(intervals.map((i) => (t += i)));
        expect([...states].filter((s) => s !== 'alive')).toEqual([]);
      }),
      { seed: 9, numRuns: 200 },
    );
  });

  it('a slow link (50 ± 20 ms of extra latency per beat) is never down, nor even suspect', () => {
    for (const seed of SEEDS) {
      const r = seededRandom(seed);
      const sent = beats(3000, () => 200);
      // Latency that varies per beat; a beat never overtakes the one before it on one stream.
      let prev = 0;
      const arrivals = sent.map((t) => (prev = Math.max(prev, t + uniform(r, 30, 70))));
      const { states } = feed(arrivals);
      expect([...states], `seed ${seed}`).toEqual(['alive']);
    }
  });

  it('a link that turns slow at once (+70 ms) and a burst of beats delivered together stay alive', () => {
    const arrivals = [...beats(100, () => 200), ...beats(100, () => 200, 20_070)];
    // a stall of the link: three beats held back, then delivered in the same millisecond
    arrivals.push(40_070 + 600, 40_070 + 600, 40_070 + 600);
    const { states } = feed(arrivals);
    expect([...states]).toEqual(['alive']);
  });

  it.each([500, 700])('a single pause (a %i ms gap between beats, a GC-like stall) never reaches down (nor suspect)', (gap) => {
    for (const seed of SEEDS) {
      const r = seededRandom(seed);
      const before = beats(300, () => uniform(r, 140, 260));
      const last = before.at(-1)!;
      const after = beats(300, () => uniform(r, 140, 260), last + gap - 200);
      const d = new PhiAccrualDetector({}, 0);
      for (const t of before) d.heartbeat(t);
      let maxPhi = 0;
      const states = new Set<Liveness>();
      for (let s = last; s < after[0]!; s++) {
        maxPhi = Math.max(maxPhi, d.phi(s));
        states.add(d.state(s));
      }
      expect([...states], `seed ${seed}`).toEqual(['alive']);
      for (const t of after) d.heartbeat(t);
      expect(maxPhi).toBeLessThan(DETECTOR_DEFAULTS.suspectThreshold);
      expect(d.state(after.at(-1)!)).toBe('alive');
    }
  });

  it('a dead agent is suspect, then down within 2 s of its last beat, and stays down', () => {
    for (const [name, interval] of [
      ['steady', () => 200],
      ['jittery', ((r) => () => uniform(r, 140, 260))(seededRandom(5))],
      ['after some pauses', ((r) => () => (r() < 0.05 ? 700 : uniform(r, 140, 260)))(seededRandom(6))],
    ] as const) {
      const arrivals = beats(400, interval);
      const { d } = feed(arrivals);
      const last = arrivals.at(-1)!;
      const suspect = msUntil(d, last, 'suspect');
      const down = msUntil(d, last, 'down');
      expect(suspect, name).toBeGreaterThan(700);
      expect(down, name).toBeGreaterThan(suspect);
      expect(down, name).toBeLessThanOrEqual(2000);
      for (const dt of [down, down + 1, 5_000, 60_000, 1e9]) expect(d.state(last + dt), name).toBe('down');
    }
  });

  it('a recovered agent is alive at its first heartbeat, and the outage does not slow the next detection', () => {
    const { d } = feed(beats(300, () => 200));
    const before = d.distribution();
    const deadAt = 60_000;
    expect(d.state(deadAt + 10_000)).toBe('down');
    d.heartbeat(deadAt + 10_000); // back after 10 s of silence
    expect(d.state(deadAt + 10_000)).toBe('alive');
    expect(d.distribution()).toEqual(before); // the 10 s gap was an outage, not a sample
    for (let t = deadAt + 10_200; t <= deadAt + 11_000; t += 200) {
      expect(d.state(t - 1)).toBe('alive');
      d.heartbeat(t);
    }
    expect(msUntil(d, deadAt + 11_000, 'down')).toBeLessThanOrEqual(2000);
  });

  it('a huge gap is down (phi Infinity, no NaN), and the next beat makes it alive', () => {
    const { d } = feed(beats(10, () => 200));
    expect(d.phi(2000 + 1e15)).toBe(Infinity);
    expect(d.state(2000 + 1e15)).toBe('down');
    d.heartbeat(2000 + 1e15);
    expect(d.state(2000 + 1e15 + 100)).toBe('alive');
    expect(Number.isFinite(d.distribution().mean)).toBe(true);
  });

  it('starting: no heartbeat yet means phi 0, no deadlines, silence counted from creation', () => {
    const d = new PhiAccrualDetector({}, 1_000);
    expect(d.state(1_000_000)).toBe('starting');
    expect(d.phi(1_000_000)).toBe(0);
    expect(d.deadlines()).toBeNull();
    expect(d.lastHeartbeatAt).toBeNull();
    expect(d.silentForMs(4_000)).toBe(3_000);
    d.heartbeat(5_000);
    expect(d.state(5_000)).toBe('alive');
    expect(d.silentForMs(5_150)).toBe(150);
    // one heartbeat is enough for a judgement: the history is seeded with the expected interval
    expect(msUntil(d, 5_000, 'down')).toBeLessThanOrEqual(2000);
  });

  it('ignores a clock that goes back', () => {
    const { d } = feed(beats(50, () => 200)); // last beat at 10 000
    const dist = d.distribution();
    d.heartbeat(9_000);
    expect(d.lastHeartbeatAt).toBe(10_000);
    expect(d.distribution()).toEqual(dist);
    expect(d.phi(9_000)).toBe(d.phi(10_000)); // a silence never counts as negative
    expect(d.state(9_000)).toBe('alive');
    expect(d.silentForMs(9_000)).toBe(0);
  });

  it('keeps a bounded window: old intervals fall out', () => {
    const d = new PhiAccrualDetector({ windowSize: 50 }, 0);
    let t = 0;
    for (let i = 0; i < 100; i++) d.heartbeat((t += 1000));
    expect(d.distribution().mean).toBeCloseTo(1000 + 500, 6);
    for (let i = 0; i < 50; i++) d.heartbeat((t += 200));
    expect(d.distribution().mean).toBeCloseTo(200 + 500, 6);
    expect(d.distribution().stdDev).toBe(100);
  });

  it('deadlines() says when the state changes if no beat comes', () => {
    const arrivals = beats(300, ((r) => () => uniform(r, 140, 260))(seededRandom(11)));
    const { d } = feed(arrivals);
    const { suspectAt, downAt } = d.deadlines()!;
    const last = arrivals.at(-1)!;
    expect(suspectAt).toBeGreaterThan(last);
    expect(d.state(suspectAt - 0.01)).toBe('alive');
    expect(d.state(suspectAt + 0.01)).toBe('suspect');
    expect(d.state(downAt - 0.01)).toBe('suspect');
    expect(d.state(downAt + 0.01)).toBe('down');
  });

  it('rejects options it cannot work with', () => {
    expect(() => new PhiAccrualDetector({ suspectThreshold: 9 }, 0)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new PhiAccrualDetector({ suspectThreshold: 0.2 }, 0)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new PhiAccrualDetector({ windowSize: 1 }, 0)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    expect(() => new PhiAccrualDetector({ minStdDevMs: 0 }, 0)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
