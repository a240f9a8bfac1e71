// The router's engine with fakes behind its two seams (Membership, AgentConnection) and an
// injected clock: which attempt goes where, what is retried, what is released. The same rules
// run against real agents in test/cluster/.
import { afterEach, describe, expect, it } from 'vitest';
import { Router, type AgentConnection } from '../../src/cluster/router.js';
import type { MemberInfo, Membership, MembershipEvents } from '../../src/cluster/local-membership.js';
import type { AgentRequest } from '../../src/agent/agent.js';
import type { CallSink } from '../../src/worker/channel.js';
import type { ErrorInfo } from '../../src/errors.js';
import { silentLogger } from '../../src/agent/log.js';

interface Pending {
  req: AgentRequest;
  sink: CallSink;
  cancelled: boolean;
}

class FakeAgent {
  calls: Pending[] = [];
  /** Delay of the first heartbeat, ms (0: at once, while the stream opens). */
  firstBeatMs = 0;
  beat: ((b: { agent: string; seq: number; inFlight: number; queueDepth: number; capacity: number; sessions: number; serving: boolean }) => void) | undefined;
  endBeats: ((err?: Error) => void) | undefined;
  /** Who its Stats say answers (a router, another agent…); absent: no `agent` in its stats. */
  about: { id: string; kind?: 'router' } | undefined;
  /** Its ListTools and Stats never answer until `answerDescribe` (a hung or hostile peer). */
  describeHangs = false;
  private held: Array<() => void> = [];
  constructor(readonly id: string) {}
  answerDescribe(): void {
    for (const go of this.held.splice(0)) go();
  }
  connection(): AgentConnection {
    const call = (req: AgentRequest, sink: CallSink) => {
      const p: Pending = { req, sink, cancelled: false };
      this.calls.push(p);
      return { cancel: () => void (p.cancelled = true) };
    };
    return {
      call: (req, _stream, sink) => call(req, sink),
      tools: async () => {
        if (this.describeHangs) await new Promise<void>((r) => this.held.push(r));
        return [{ name: 't', doc: '', params: [], stream: false, pool: 'default' }];
      },
      stats: async () => {
        if (this.describeHangs) await new Promise<void>((r) => this.held.push(r));
        return { pools: [{ name: 'default', affinity: 'hint' }], ...(this.about ? { agent: this.about } : {}) } as never;
      },
      drain: async () => true,
      reload: async () => ({ replaced: 0, changes: [] }),
      restartWorker: async () => undefined,
      watch: () => () => {},
      heartbeats: (_ms, onBeat, onEnd) => {
        this.beat = onBeat;
        this.endBeats = onEnd;
        const first = (): void => onBeat({ agent: this.id, seq: 1, inFlight: 0, queueDepth: 0, capacity: 1, sessions: 0, serving: true });
        if (this.firstBeatMs > 0) setTimeout(first, this.firstBeatMs);
        else first();
        return () => {};
      },
      close: () => {},
    };
  }
  answer(i: number, value = '1'): void {
    this.calls[i]!.sink.result({ json: Buffer.from(value), blobs: [] });
  }
  fail(i: number, e: ErrorInfo): void {
    this.calls[i]!.sink.error(e);
  }
}

class FakeMembership implements Membership {
  events: MembershipEvents | undefined;
  constructor(private readonly infos: MemberInfo[]) {}
  async start(events: MembershipEvents): Promise<void> {
    this.events = events;
    for (const i of this.infos) events.up(i);
  }
  members(): MemberInfo[] {
    return this.infos;
  }
  async scale(): Promise<void> {}
  hold(): void {}
  release(): void {}
  async stop(): Promise<void> {}
}

const info = (id: string): MemberInfo => ({ id, home: `/h/${id}`, address: `unix:/h/${id}/agent.sock`, lane: `/h/${id}/exchange.sock`, pid: 1, labels: {}, version: '0', workerPids: [], restarts: 0 });
const req = (extra: Partial<AgentRequest> = {}): AgentRequest => ({ tool: 't', args: { json: Buffer.from('{}'), blobs: [] }, session: null, ...extra });
const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

let router: Router | undefined;
afterEach(async () => {
  await router?.shutdown();
  router = undefined;
});

async function cluster(ids: string[], firstBeatMs: Record<string, number> = {}): Promise<{ agents: Map<string, FakeAgent>; membership: FakeMembership; clock: { now: number } }> {
  const agents = new Map(ids.map((id) => [id, new FakeAgent(id)]));
  for (const [id, ms] of Object.entries(firstBeatMs)) agents.get(id)!.firstBeatMs = ms;
  const membership = new FakeMembership(ids.map(info));
  const clock = { now: 1_000_000 };
  router = new Router({ id: 'r', membership, logger: silentLogger, connectAgent: (i) => agents.get(i.id)!.connection(), now: () => clock.now, random: () => 0 });
  await router.start();
  return { agents, membership, clock };
}

/** The agent a call was sent to, and its index there. */
function sentTo(agents: Map<string, FakeAgent>): Array<{ id: string; i: number; p: Pending }> {
  return [...agents.values()].flatMap((a) => a.calls.map((p, i) => ({ id: a.id, i, p })));
}

describe('the router engine', () => {
  it('is started only once every agent has sent its first heartbeat: none is still "starting" then', async () => {
    // Before, start() resolved as the heartbeat streams opened: a session's first call went to
    // whichever agent had answered, and moved (strict affinity: SESSION_WORKER_LOST) once the
    // others had.
    await cluster(['a', 'b', 'c'], { b: 30, c: 60 });
    expect((await router!.stats()).agents!.map((a) => a.state)).toEqual(['alive', 'alive', 'alive']);
  });

  it('sends a call to one agent and delivers its result; a cancel reaches that agent and frees its slot', async () => {
    const { agents } = await cluster(['a', 'b']);
    const got: string[] = [];
    router!.execute(req(), (e, v) => got.push(e ? e.code : v!.json.toString()));
    await tick();
    const [first] = sentTo(agents);
    agents.get(first!.id)!.answer(first!.i, '42');
    expect(got).toEqual(['42']);
    const control = router!.execute(req(), (e) => got.push(e ? e.code : 'ok'));
    await tick();
    control.cancel();
    expect(got).toEqual(['42', 'CANCELLED']);
    const second = sentTo(agents).find((s) => s.p !== first!.p)!;
    expect(second.p.cancelled).toBe(true);
    expect((await router!.stats()).agents!.every((a) => a.inFlight === 0)).toBe(true);
  });

  it('moves a call that never reached its agent to another one, idempotent or not', async () => {
    const { agents } = await cluster(['a', 'b']);
    const got: string[] = [];
    router!.execute(req(), (e, v) => got.push(e ? e.code : v!.json.toString()));
    await tick();
    const [first] = sentTo(agents);
    agents.get(first!.id)!.fail(first!.i, { code: 'AGENT_UNAVAILABLE', message: 'refused', unsent: true });
    await tick(20);
    const second = sentTo(agents).find((s) => s.id !== first!.id)!;
    expect(second).toBeDefined();
    agents.get(second.id)!.answer(second.i, '7');
    expect(got).toEqual(['7']);
  });

  it('retries a call that may have run only when it is idempotent', async () => {
    const { agents } = await cluster(['a', 'b']);
    const got: string[] = [];
    router!.execute(req(), (e) => got.push(e ? e.code : 'ok'));
    await tick();
    let [s] = sentTo(agents);
    agents.get(s!.id)!.fail(s!.i, { code: 'WORKER_CRASHED', message: 'boom' });
    await tick(20);
    expect(got).toEqual(['WORKER_CRASHED']);
    expect(sentTo(agents)).toHaveLength(1);

    router!.execute(req({ idempotent: true }), (e, v) => got.push(e ? e.code : v!.json.toString()));
    await tick();
    s = sentTo(agents)[1];
    agents.get(s!.id)!.fail(s!.i, { code: 'WORKER_CRASHED', message: 'boom' });
    await tick(20);
    const retried = sentTo(agents)[2]!;
    expect(retried.id).not.toBe(s!.id);
    agents.get(retried.id)!.answer(retried.i, '9');
    expect(got).toEqual(['WORKER_CRASHED', '9']);
  });

  it('never retries a stream that already delivered a chunk', async () => {
    const { agents } = await cluster(['a', 'b']);
    const seen: string[] = [];
    router!.stream(req({ idempotent: true }), { chunk: (v) => seen.push(v.json.toString()), result: () => seen.push('result'), end: () => seen.push('end'), error: (e) => seen.push(e.code) });
    await tick();
    const [s] = sentTo(agents);
    s!.p.sink.chunk({ json: Buffer.from('"c1"'), blobs: [] });
    agents.get(s!.id)!.fail(s!.i, { code: 'WORKER_CRASHED', message: 'boom' });
    await tick(20);
    expect(seen).toEqual(['"c1"', 'WORKER_CRASHED']);
    expect(sentTo(agents)).toHaveLength(1);
  });

  it('gives up calls in flight to an agent that falls silent, moving idempotent ones elsewhere', async () => {
    const { agents, clock } = await cluster(['a', 'b']);
    const got: string[] = [];
    router!.execute(req({ idempotent: true }), (e, v) => got.push(e ? e.code : v!.json.toString()));
    await tick();
    const [s] = sentTo(agents);
    const other = [...agents.values()].find((a) => a.id !== s!.id)!;
    // 3 s of silence from the call's agent (the other keeps beating): the detector says down.
    for (let t = 0; t < 15; t++) {
      clock.now += 200;
      other.beat!({ agent: other.id, seq: t + 2, inFlight: 0, queueDepth: 0, capacity: 1, sessions: 0, serving: true });
    }
    await tick(80);
    expect(s!.p.cancelled).toBe(true);
    const moved = sentTo(agents).find((x) => x.id === other.id)!;
    other.answer(moved.i, '5');
    expect(got).toEqual(['5']);
    expect((await router!.stats()).agents!.find((a) => a.id === s!.id)!.state).toBe('down');
  });

  it('routes nothing to an agent whose process exited, and says why when nobody is left', async () => {
    const { agents, membership } = await cluster(['a']);
    membership.events!.down(info('a'), 'its process exited with signal SIGKILL');
    const got: ErrorInfo[] = [];
    router!.execute(req(), (e) => got.push(e!));
    await tick();
    expect(agents.get('a')!.calls).toHaveLength(0);
    expect(got[0]!.code).toBe('AGENT_UNAVAILABLE');
    expect(got[0]!.message).toMatch(/a: down/);
  });

  it('moves every call in flight on an agent whose connection broke, past the retry budget (its failures are a one-off)', async () => {
    const { agents } = await cluster(['a', 'b']);
    const got: string[] = [];
    router!.cordon('b', true); // so that all 12 start on a
    for (let i = 0; i < 12; i++) router!.execute(req({ idempotent: true }), (e, v) => got.push(e ? e.code : v!.json.toString()));
    await tick();
    router!.cordon('b', false);
    const a = agents.get('a')!;
    const b = agents.get('b')!;
    expect(a.calls).toHaveLength(12);
    // a dies: every call in flight there fails at once, more than the budget's 5 retries.
    for (let i = 0; i < 12; i++) a.fail(i, { code: 'AGENT_UNAVAILABLE', message: 'the agent closed the connection' });
    await tick(30);
    expect(b.calls).toHaveLength(12);
    for (let i = 0; i < 12; i++) b.answer(i, String(i));
    expect(got).toHaveLength(12);
    expect(got.filter((x) => x === 'AGENT_UNAVAILABLE')).toEqual([]);
    expect((await router!.stats()).agents!.find((x) => x.id === 'a')!.state).toBe('down');
  });
});

describe('the router and what a registry entry can make it dial', () => {
  async function start(agents: FakeAgent[], describeWaitMs = 5_000): Promise<void> {
    const byId = new Map(agents.map((a) => [a.id, a]));
    const membership = new FakeMembership(agents.map((a) => info(a.id)));
    router = new Router({ id: 'r', membership, logger: silentLogger, connectAgent: (i) => byId.get(i.id)!.connection(), random: () => 0, describeWaitMs });
    await router.start();
  }
  const runOne = async (agents: FakeAgent[], session: string | null): Promise<string[]> => {
    const got: string[] = [];
    const before = agents.map((a) => a.calls.length);
    router!.execute(req({ session }), (e, v) => got.push(e ? e.code : v!.json.toString()));
    await tick();
    agents.forEach((a, n) => {
      for (let i = before[n]!; i < a.calls.length; i++) a.answer(i, a.id);
    });
    await tick();
    return got;
  };

  it('never routes to an address that answers as a router (its own: calls would loop) or as another agent', async () => {
    // Before: an etcd entry naming the router's own address was joined like an agent, and a call
    // placed there was forwarded to the router again, hop after hop (thousands in flight, hung).
    const real = new FakeAgent('real');
    real.about = { id: 'real' };
    const loop = new FakeAgent('loop');
    loop.about = { id: 'r', kind: 'router' };
    const twin = new FakeAgent('twin');
    twin.about = { id: 'real' };
    await start([real, loop, twin]);
    for (let i = 0; i < 20; i++) expect(await runOne([real, loop, twin], `s${i}`)).toEqual(['real']);
    expect(loop.calls).toHaveLength(0);
    expect(twin.calls).toHaveLength(0);
  });

  it('starts when an agent never describes itself, and routes to it once it does', async () => {
    // Before: start() waited for every agent's ListTools and Stats without a deadline, so one
    // registered address that accepts connections and never answers held `router up` for ever.
    const ok = new FakeAgent('ok');
    const hung = new FakeAgent('hung');
    hung.describeHangs = true;
    const t0 = Date.now();
    await start([ok, hung], 100);
    expect(Date.now() - t0).toBeLessThan(2_000);
    for (let i = 0; i < 10; i++) expect(await runOne([ok, hung], `s${i}`)).toEqual(['ok']);
    hung.answerDescribe();
    await tick();
    const landed = new Set<string>();
    for (let i = 0; i < 20; i++) for (const v of await runOne([ok, hung], `t${i}`)) landed.add(v);
    expect([...landed].sort()).toEqual(['hung', 'ok']);
  });
});
