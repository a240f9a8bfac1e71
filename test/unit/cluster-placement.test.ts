// placement.ts: the filter, rendezvous hashing for sessions (properties over membership changes)
// and power of two choices for calls without a session (a load simulation).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { agentLoad, noCandidateError, ownerChanged, pick, place, rendezvousScore, sessionOwner, type AgentView, type PlacementCall } from '../../src/cluster/placement.js';
import { seededRandom } from './cluster-rng.js';

const agent = (id: string, over: Partial<AgentView> = {}): AgentView => ({
  id,
  state: 'alive',
  breaker: 'closed',
  tools: new Set(['add', 'embed']),
  labels: {},
  inFlight: 0,
  queueDepth: 0,
  capacity: 4,
  ...over,
});
const call = (over: Partial<PlacementCall> = {}): PlacementCall => ({ tool: 'add', session: null, require: {}, ...over });
const ids = (agents: readonly AgentView[]): string[] => agents.map((a) => a.id);
const r0 = seededRandom(1);

describe('filter', () => {
  it('leaves out what cannot take the call, saying why', () => {
    const agents = [
      agent('ok'),
      agent('starting', { state: 'starting' }),
      agent('down', { state: 'down' }),
      agent('cordoned', { state: 'cordoned' }),
      agent('draining', { state: 'draining' }),
      agent('open', { breaker: 'open' }),
      agent('half', { breaker: 'half-open' }),
      agent('notool', { tools: new Set(['other']) }),
    ];
    const p = place(call(), agents, r0);
    expect(ids(p.candidates).sort()).toEqual(['half', 'ok']);
    expect(p.rejected).toEqual([
      { id: 'starting', reason: 'starting' },
      { id: 'down', reason: 'down' },
      { id: 'cordoned', reason: 'cordoned' },
      { id: 'draining', reason: 'draining' },
      { id: 'open', reason: 'breaker-open' },
      { id: 'notool', reason: 'tool-not-served' },
    ]);
  });

  it('requires every required label with its exact value', () => {
    const agents = [agent('gpu', { labels: { gpu: 'a100', zone: 'x' } }), agent('cpu', { labels: { zone: 'x' } }), agent('other', { labels: { gpu: 'v100' } })];
    expect(ids(place(call({ require: { gpu: 'a100' } }), agents, r0).candidates)).toEqual(['gpu']);
    expect(ids(place(call({ require: { gpu: 'a100', zone: 'x' } }), agents, r0).candidates)).toEqual(['gpu']);
    expect(ids(place(call({ require: { zone: 'x' } }), agents, r0).candidates).sort()).toEqual(['cpu', 'gpu']);
    expect(place(call({ require: { toString: 'x' } }), agents, r0).candidates).toEqual([]); // no inherited "label"
    expect(place(call({ require: { gpu: 'a100' } }), agents, r0).rejected).toEqual([
      { id: 'cpu', reason: 'labels' },
      { id: 'other', reason: 'labels' },
    ]);
  });

  it('puts suspect agents after every alive one, for sessions and for load', () => {
    const agents = [agent('s1', { state: 'suspect' }), agent('a1', { inFlight: 100 }), agent('s2', { state: 'suspect' }), agent('a2', { inFlight: 50 })];
    for (let i = 0; i < 50; i++) {
      expect(ids(place(call(), agents, r0).candidates).slice(0, 2).sort()).toEqual(['a1', 'a2']);
      expect(ids(place(call({ session: `s${i}` }), agents, r0).candidates).slice(0, 2).sort()).toEqual(['a1', 'a2']);
    }
    expect(ids(place(call(), [agent('s', { state: 'suspect' })], r0).candidates)).toEqual(['s']);
  });
});

describe('sessions: rendezvous hashing', () => {
  const agents = ['a', 'b', 'c', 'd', 'e'].map((id) => agent(id));

  it('orders candidates by rendezvous score, highest (the owner) first, and needs no randomness', () => {
    const noRandom = () => {
      throw new Error('used random');
    };
    for (let i = 0; i < 200; i++) {
      const session = `session-${i}`;
      const ranked = ids(place(call({ session }), agents, noRandom).candidates);
      expect(ranked).toEqual([...ids(agents)].sort((x, y) => rendezvousScore(session, y) - rendezvousScore(session, x)));
      expect(sessionOwner(call({ session }), agents)).toBe(ranked[0]);
    }
    expect(rendezvousScore('s', 'a')).toBe(rendezvousScore('s', 'a'));
    expect(rendezvousScore('s', 'a')).not.toBe(rendezvousScore('s', 'b'));
  });

  it('sessionOwner is always place()\'s first candidate (suspect and rejected agents included)', () => {
    const states = ['alive', 'alive', 'suspect', 'down', 'draining'] as const;
    fc.assert(
      fc.property(fc.array(fc.record({ id: fc.string({ maxLength: 4 }), state: fc.constantFrom(...states), breaker: fc.constantFrom('closed', 'open', 'half-open' as const) }), { maxLength: 8 }), fc.string(), (specs, session) => {
        const agents = specs.map((s) => agent(s.id, { state: s.state, breaker: s.breaker }));
        const c = call({ session });
        expect(sessionOwner(c, agents)).toBe(place(c, agents, r0).candidates[0]?.id ?? null);
      }),
      { seed: 11, numRuns: 1000 },
    );
  });

  it('gives each of 10 agents ~1/10 of 10 000 sessions', () => {
    const ten = Array.from({ length: 10 }, (_, i) => agent(`agent-${i}`));
    const count = new Map<string, number>();
    for (let i = 0; i < 10_000; i++) {
      const o = sessionOwner(call({ session: `user-${i}` }), ten)!;
      count.set(o, (count.get(o) ?? 0) + 1);
    }
    for (const a of ten) expect(Math.abs(count.get(a.id)! / 10_000 - 0.1), a.id).toBeLessThanOrEqual(0.03);
  });

  it('falls back along the same order when the owner cannot take the call', () => {
    const session = 'sticky';
    const ranked = ids(place(call({ session }), agents, r0).candidates);
    const withoutOwner = agents.map((a) => (a.id === ranked[0] ? { ...a, state: 'down' as const } : a));
    expect(ids(place(call({ session }), withoutOwner, r0).candidates)).toEqual(ranked.slice(1));
  });

  it('a session without candidates has no owner; a call without a session has none either', () => {
    expect(sessionOwner(call({ session: 'x' }), [agent('a', { state: 'down' })])).toBeNull();
    expect(sessionOwner(call(), agents)).toBeNull();
  });

  it('ownerChanged: true once the owner is another agent, given the earlier view or the remembered owner', () => {
    const c = call({ session: 'sticky' });
    const owner = sessionOwner(c, agents)!;
    const lost = agents.filter((a) => a.id !== owner);
    expect(ownerChanged(c, agents, agents)).toBe(false);
    expect(ownerChanged(c, agents, lost)).toBe(true);
    expect(ownerChanged(c, owner, lost)).toBe(true);
    expect(ownerChanged(c, sessionOwner(c, lost), lost)).toBe(false); // the router remembered the new owner
    // Nobody can take it now: no change yet (the call fails with AGENT_UNAVAILABLE) …
    const none = agents.map((a) => ({ ...a, state: 'down' as const }));
    expect(ownerChanged(c, owner, none)).toBe(false);
    // … and compared with the remembered owner, a change across that gap is still seen.
    expect(ownerChanged(c, owner, lost)).toBe(true);
    expect(ownerChanged(c, null, agents)).toBe(false);
    // An owner that was suspect for a while and routed around counts as a change too.
    const suspect = agents.map((a) => (a.id === owner ? { ...a, state: 'suspect' as const } : a));
    expect(ownerChanged(c, owner, suspect)).toBe(true);
  });
});

describe('sessions: properties over membership changes (10 000 sessions, N = 3..10 agents)', () => {
  const SESSIONS = 10_000;
  /** Distinct agent ids and a session namespace, drawn by fast-check (seeded: a failure prints the seed and the counterexample). */
  const membership = fc.integer({ min: 3, max: 10 }).chain((n) =>
    fc.record({
      ids: fc.uniqueArray(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), { minLength: n + 1, maxLength: n + 1 }),
      sessionPrefix: fc.string({ maxLength: 8 }),
      pick: fc.nat(),
    }),
  );
  const owners = (agents: readonly AgentView[], prefix: string): string[] => Array.from({ length: SESSIONS }, (_, i) => sessionOwner(call({ session: `${prefix}${i}` }), agents)!);

  it('losing 1 of N agents moves 1/N ± 3 pp of the sessions, only those the lost agent owned', () => {
    fc.assert(
      fc.property(membership, ({ ids: all, sessionPrefix, pick }) => {
        const agents = all.slice(1).map((id) => agent(id));
        const n = agents.length;
        const lost = agents[pick % n]!.id;
        const before = owners(agents, sessionPrefix);
        const after = owners(
          agents.filter((a) => a.id !== lost),
          sessionPrefix,
        );
        let moved = 0;
        let wrong = 0; // moved without having been the lost agent's, or stayed on it
        for (let i = 0; i < SESSIONS; i++) {
          if (before[i] !== after[i]) moved++;
          if ((before[i] !== after[i]) !== (before[i] === lost)) wrong++;
        }
        expect(wrong).toBe(0);
        expect(Math.abs(moved / SESSIONS - 1 / n)).toBeLessThanOrEqual(0.03);
      }),
      { seed: 20240501, numRuns: 10 },
    );
  });

  it('adding one agent to N moves ~1/(N+1) ± 3 pp of the sessions, all to the new agent', () => {
    fc.assert(
      fc.property(membership, ({ ids: all, sessionPrefix }) => {
        const agents = all.slice(1).map((id) => agent(id));
        const joined = agent(all[0]!);
        const before = owners(agents, sessionPrefix);
        const after = owners([...agents, joined], sessionPrefix);
        let moved = 0;
        let elsewhere = 0; // moved, but not to the new agent
        for (let i = 0; i < SESSIONS; i++) {
          if (before[i] === after[i]) continue;
          moved++;
          if (after[i] !== joined.id) elsewhere++;
        }
        expect(elsewhere).toBe(0);
        expect(Math.abs(moved / SESSIONS - 1 / (agents.length + 1))).toBeLessThanOrEqual(0.03);
      }),
      { seed: 20240502, numRuns: 10 },
    );
  });

  it('two routers (independent calls, membership listed in another order, other random sources) agree on every owner', () => {
    fc.assert(
      fc.property(membership, fc.integer(), ({ ids: all, sessionPrefix }, seed) => {
        const agents = all.map((id, i) => agent(id, { inFlight: i }));
        const shuffled = fc.sample(fc.shuffledSubarray(agents, { minLength: agents.length }), { seed, numRuns: 1 })[0]!;
        const [ra, rb] = [seededRandom(seed), seededRandom(seed + 1)];
        let disagree = 0;
        for (let i = 0; i < SESSIONS; i++) {
          const c = call({ session: `${sessionPrefix}${i}` });
          if (sessionOwner(c, shuffled) !== sessionOwner(c, agents)) disagree++;
          if (i % 50 === 0 && ids(place(c, shuffled, rb).candidates).join('\0') !== ids(place(c, agents, ra).candidates).join('\0')) disagree++;
        }
        expect(disagree).toBe(0);
      }),
      { seed: 20240503, numRuns: 10 },
    );
  });
});

describe('calls without a session: power of two choices', () => {
  /** A random source that returns the given values in turn. */
  const script = (...values: number[]) => () => values.shift() ?? 0;

  it('draws two distinct candidates, puts the less loaded first, then the rest by load', () => {
    const agents = [agent('a', { inFlight: 3 }), agent('b', { inFlight: 1 }), agent('c', { inFlight: 2 }), agent('d', { inFlight: 0 })];
    // draws a (index 0), then index 1 of the 3 others (b, c, d): c, less loaded than a
    expect(ids(place(call(), agents, script(0, 0.5)).candidates)).toEqual(['c', 'd', 'b', 'a']);
    // draws b and a: b first, then the rest by load (d 0, c 2, a 3)
    expect(ids(place(call(), agents, script(0.3, 0)).candidates)).toEqual(['b', 'd', 'c', 'a']);
    // the same value twice still draws two agents (c, then b of a, b, d)
    expect(ids(place(call(), agents, script(0.5, 0.5)).candidates)).toEqual(['b', 'd', 'c', 'a']);
  });

  it('never puts the most loaded of several first, and ties keep the first drawn', () => {
    const r = seededRandom(3);
    const agents = [agent('a', { inFlight: 5 }), agent('b', { inFlight: 1 }), agent('c', { inFlight: 2 })];
    const firsts = new Set<string>();
    for (let i = 0; i < 500; i++) firsts.add(place(call(), agents, r).candidates[0]!.id);
    expect([...firsts].sort()).toEqual(['b', 'c']);
    const even = [agent('a'), agent('b'), agent('c')];
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(place(call(), even, r).candidates[0]!.id);
    expect(seen.size).toBe(3);
  });

  it('measures load as (inFlight + queueDepth) / capacity, a capacity of 0 counting as 1', () => {
    expect(agentLoad(agent('a', { inFlight: 2, queueDepth: 6, capacity: 4 }))).toBe(2);
    expect(agentLoad(agent('a', { inFlight: 3, queueDepth: 0, capacity: 0 }))).toBe(3);
    const agents = [agent('big', { inFlight: 8, capacity: 16 }), agent('small', { inFlight: 1, queueDepth: 3, capacity: 4 })];
    expect(ids(place(call(), agents, script(0, 0)).candidates)).toEqual(['big', 'small']);
  });

  it('with one candidate returns it without drawing', () => {
    expect(ids(place(call(), [agent('only')], script()).candidates)).toEqual(['only']);
    expect(place(call(), [], r0).candidates).toEqual([]);
  });

  /**
   * Sessionless calls arrive (Poisson, ~90 in flight over 3 agents on average) and finish after an
   * exponential time; each goes to the first candidate. Returns the worst max/mean in-flight seen
   * at any arrival after warm-up, and the ratio of the busiest agent's time-averaged in-flight to
   * the mean.
   */
  function simulate(seed: number, choose: (agents: AgentView[], random: () => number) => AgentView, capacities = [64, 64, 64]): { worst: number; averaged: number } {
    const random = seededRandom(seed);
    const agents = capacities.map((capacity, i) => ({ ...agent(`agent-${i}`), capacity }));
    const meanDuration = 50;
    const rate = 90 / meanDuration; // arrivals per ms
    const ends: { at: number; i: number }[] = [];
    const area = agents.map(() => 0);
    let t = 0;
    let worst = 0;
    const advance = (to: number) => {
      agents.forEach((a, i) => (area[i]! += agentLoad(a) * (to - t)));
      t = to;
    };
    for (let n = 0; n < 10_000; n++) {
      const arrival = t - Math.log(1 - random()) / rate;
      ends.sort((x, y) => x.at - y.at);
      while (ends.length > 0 && ends[0]!.at <= arrival) {
        const e = ends.shift()!;
        advance(e.at);
        agents[e.i] = { ...agents[e.i]!, inFlight: agents[e.i]!.inFlight - 1 };
      }
      advance(arrival);
      const i = agents.indexOf(choose(agents, random));
      agents[i] = { ...agents[i]!, inFlight: agents[i]!.inFlight + 1 };
      ends.push({ at: t - Math.log(1 - random()) * meanDuration, i });
      if (n > 1_000) {
        const loads = agents.map(agentLoad);
        const mean = loads.reduce((s, x) => s + x, 0) / loads.length;
        worst = Math.max(worst, Math.max(...loads) / mean);
      }
    }
    const mean = area.reduce((s, x) => s + x, 0) / area.length;
    return { worst, averaged: Math.max(...area) / mean };
  }
  const p2c = (agents: AgentView[], random: () => number) => place(call(), agents, random).candidates[0]!;

  it('keeps the busiest of 3 agents within 1.2× the mean in-flight at every arrival (uniform load)', () => {
    for (const seed of [1, 2, 3]) {
      const { worst, averaged } = simulate(seed, p2c);
      expect(worst, `seed ${seed}`).toBeLessThanOrEqual(1.2);
      expect(averaged, `seed ${seed}`).toBeLessThan(1.01);
    }
  });

  it('the same check fails for placement at random (the simulation can tell)', () => {
    const { worst } = simulate(1, (agents, random) => agents[Math.floor(random() * agents.length)]!);
    expect(worst).toBeGreaterThan(1.3);
  });

  it('balances load, not calls, when capacities differ', () => {
    const { worst, averaged } = simulate(4, p2c, [32, 64, 96]);
    expect(worst).toBeLessThanOrEqual(1.35);
    expect(averaged).toBeLessThan(1.05);
  });
});

describe('noCandidateError', () => {
  it('says TOOL_NOT_FOUND when no agent at all serves the tool', () => {
    const agents = [agent('a', { tools: new Set(['x']) }), agent('b', { state: 'down', tools: new Set(['y']) })];
    const c = call({ tool: 'nope' });
    expect(noCandidateError(c, agents, place(c, agents, r0))).toMatchObject({ code: 'TOOL_NOT_FOUND' });
  });

  it('says AGENT_UNAVAILABLE otherwise, with why each agent was left out', () => {
    const agents = [agent('a', { state: 'down' }), agent('b', { breaker: 'open' }), agent('c', { labels: { gpu: 'no' } })];
    const c = call({ require: { gpu: 'a100' } });
    const err = noCandidateError(c, agents, place(c, agents, r0));
    expect(err.code).toBe('AGENT_UNAVAILABLE');
    expect(err.message).toContain('a: down');
    expect(err.message).toContain('b: breaker-open');
    expect(err.message).toContain('c: lacks gpu=a100');
    expect(noCandidateError(c, [], place(c, [], r0)).code).toBe('AGENT_UNAVAILABLE');
  });
});

describe('pick: the first candidate without ranking them all', () => {
  const states = ['alive', 'alive', 'suspect', 'starting', 'down', 'cordoned', 'draining'] as const;
  const view = fc.record({
    state: fc.constantFrom(...states),
    breaker: fc.constantFrom('closed', 'closed', 'open', 'half-open' as const),
    serves: fc.boolean(),
    zone: fc.constantFrom('a', 'b'),
    inFlight: fc.nat({ max: 8 }),
    queueDepth: fc.nat({ max: 8 }),
    capacity: fc.nat({ max: 4 }),
  });
  const scene = fc.record({
    views: fc.array(view, { maxLength: 8 }),
    session: fc.option(fc.string({ maxLength: 6 })),
    require: fc.constantFrom({}, { zone: 'a' }),
    draws: fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 2, maxLength: 2 }),
  });

  it('is what place() ranks first, for any view, session, labels and random draws', () => {
    fc.assert(
      fc.property(scene, ({ views, session, require, draws }) => {
        const agents = views.map((v, i) => agent(`a${i}`, { state: v.state, breaker: v.breaker, tools: new Set(v.serves ? ['add'] : ['other']), labels: { zone: v.zone }, inFlight: v.inFlight, queueDepth: v.queueDepth, capacity: v.capacity }));
        const c = call({ session, require });
        const replay = (): (() => number) => {
          let k = 0;
          return () => draws[k++ % draws.length]!;
        };
        expect(pick(c, agents, replay())?.id ?? null).toBe(place(c, agents, replay()).candidates[0]?.id ?? null);
      }),
      { seed: 20241201, numRuns: 2000 },
    );
  });
});
