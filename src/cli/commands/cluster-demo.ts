// `snakepit cluster demo`: what the cluster does, in one command. It boots a local cluster (a
// router and N agents of the built-in demo tools) in a temporary home, exactly as `cluster up`
// does, drives a mixed load through it with the library's `connect({ home })` (src/demo/load.ts),
// SIGKILLs one agent midway (its pid proven by the agent's own home, as `down` proves one), and
// shows it live: an Ink view on a terminal, else one progress line per second on stderr. It ends
// with a summary (`--json`: one document) and leaves nothing running: `cluster down`, then every
// process it saw is checked gone, then the home is removed, in a `finally`, on Ctrl-C too (exit
// 130).
//
// The kill's detection is timed from the router's own WatchEvents stream: SIGKILL → the
// `cluster.agent` event saying `down` (and later `alive`, once the router has restarted it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type AgentClient } from '../../api/client.js';
import type { AgentStats } from '../../client/types.js';
import { MAX_SOCKET_PATH, agentState, homePaths, isAlive, processStartTime, readInfo } from '../../daemon/home.js';
import { EXIT, SnakepitError } from '../../errors.js';
import { MixedLoad, type LoadResult } from '../../demo/load.js';
import { agentToKill, formatSummary, initialState, logLine, progressLine, summarize, type DemoPlan } from '../../demo/state.js';
import { createStore, type DemoStore } from '../../demo/store.js';
import type { CommandResult, Io } from '../output.js';
import { clusterDownCommand, clusterUpCommand } from './cluster.js';

export interface ClusterDemoOptions {
  agents?: number;
  workers?: number;
  requests?: number;
  concurrency?: number;
  /** `--no-kill` sets it false. */
  kill?: boolean;
  python?: string;
  json?: boolean;
}

/**
 * The demo's defaults: measured on a 2-core machine, 3 agents × 2 workers serve this load in about
 * 10 s, and at concurrency 8 the calls in flight on the killed agent (2–4) stay well inside the
 * router's retry budget (retries stop while fewer than half of its 10 tokens are left).
 */
export const DEMO_DEFAULTS = {
  agents: 3,
  workers: 2,
  requests: 3_000,
  concurrency: 8,
  /** How long each sessionless call works (the demo `sleep` tool), ms. */
  workMs: 20,
  /** Sessions per agent. */
  sessionsPerAgent: 4,
  /** Interval of the router's stats snapshots (per-agent calls/s, in flight), ms. */
  statsIntervalMs: 250,
  /** Interval of the load's counts in the view, ms. */
  tickMs: 200,
  /** A load with calls pending and none answered for this long ends; those calls are lost. */
  stallMs: 15_000,
  /** After the load, how long to wait for the killed agent to serve again, ms. */
  recoveryWaitMs: 15_000,
  /** After `cluster down`, how long a process of the cluster may take to be gone, ms. */
  goneWaitMs: 5_000,
  maxAgents: 16,
  maxConcurrency: 256,
} as const;

/** Exit codes of a demo stopped by a signal (the shell's 128 + signal number). */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
/** A repeat of the same signal this soon is an echo (see onSignal), ms. */
const SIGNAL_ECHO_MS = 500;

export function demoPlan(opts: ClusterDemoOptions): DemoPlan {
  const agents = opts.agents ?? DEMO_DEFAULTS.agents;
  const kill = opts.kill ?? true;
  const whole = (v: number, flag: string, max = Number.MAX_SAFE_INTEGER): number => {
    if (!Number.isInteger(v) || v < 1 || v > max) throw new SnakepitError('USAGE', `${flag} needs a whole number from 1 to ${max === Number.MAX_SAFE_INTEGER ? 'any' : max}, got ${v}`);
    return v;
  };
  whole(agents, '--agents', DEMO_DEFAULTS.maxAgents);
  if (kill && agents < 2) throw new SnakepitError('USAGE', `--agents ${agents} leaves no agent to take over when one is killed: use --agents 2 or more, or --no-kill`);
  return {
    agents,
    workers: whole(opts.workers ?? DEMO_DEFAULTS.workers, '--workers'),
    requests: whole(opts.requests ?? DEMO_DEFAULTS.requests, '--requests'),
    concurrency: whole(opts.concurrency ?? DEMO_DEFAULTS.concurrency, '--concurrency', DEMO_DEFAULTS.maxConcurrency),
    kill,
    sessions: agents * DEMO_DEFAULTS.sessionsPerAgent,
  };
}

/**
 * Where the temporary home goes: the system's temporary directory, unless its path is too long for
 * the agents' unix sockets (`<tmp>/sp-demo-XXXXXX/agents/NN/exchange.sock`), then /tmp.
 */
export function demoTmpBase(base = tmpdir()): string {
  const longest = join(base, 'sp-demo-XXXXXX', 'agents', String(DEMO_DEFAULTS.maxAgents), 'exchange.sock');
  return Buffer.byteLength(longest) <= MAX_SOCKET_PATH ? base : '/tmp';
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });

export async function clusterDemoCommand(opts: ClusterDemoOptions, io: Io): Promise<CommandResult> {
  const plan = demoPlan(opts);
  const clock = (): number => performance.now();
  const store = createStore(initialState(plan, clock()));
  const live = !opts.json && process.stdout.isTTY === true;

  const home = mkdtempSync(join(demoTmpBase(), 'sp-demo-'));

  // Ctrl-C (or SIGTERM): stop the load, then the same clean-up as a normal end.
  let signalled: NodeJS.Signals | null = null;
  let signalledAt = 0;
  const wake = new AbortController();
  let load: MixedLoad | undefined;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) {
      // conf's when-exit hook re-sends the signal it saw to this process: that echo is not a second Ctrl-C.
      if (sig === signalled && Date.now() - signalledAt < SIGNAL_ECHO_MS) return;
      io.stderr(`${sig}: still stopping the cluster and removing its home…\n`);
      return;
    }
    signalled = sig;
    signalledAt = Date.now();
    load?.stop();
    wake.abort();
    if (!live) io.stderr(`${sig}: stopping the demo…\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  /** Every process of the cluster seen: pid → start time (verified gone at the end). */
  const seen = new Map<number, number>();
  const see = (pid: number | undefined): void => {
    if (!pid || seen.has(pid)) return;
    const start = processStartTime(pid);
    if (start !== undefined) seen.set(pid, start);
  };
  let client: AgentClient | undefined;
  let stopWatch: (() => void) | undefined;
  let stopView: (() => Promise<void>) | undefined;
  let result: LoadResult | undefined;
  let retries = 0;
  let agentIds: string[] = [];
  try {
    // The built-in demo tools, whatever snakepit.config.json the current directory holds.
    const config = join(home, 'demo.config.json');
    writeFileSync(config, `${JSON.stringify({ pools: { default: { tools: 'snakepit.demo', affinity: 'hint' } } })}\n`, { mode: 0o600 });
    await clusterUpCommand({ home, config, agents: plan.agents, workers: plan.workers, ...(opts.python ? { python: opts.python } : {}), json: true }, { ...io, stdout: () => {} });
    const info = readInfo(homePaths(home));
    see(info?.pid);
    for (const a of info?.agents ?? []) see(a.pid);
    agentIds = (info?.agents ?? []).map((a) => a.id);
    if (!signalled) {
      client = connect({ home });
      stopWatch = watchRouter(client, store, clock, (stats) => {
        see(stats.agent.pid);
        for (const a of stats.agents ?? []) see(a.pid);
        for (const w of stats.workers) see(w.pid);
      });
      stopView = live ? await liveView(store) : progressPrinter(store, io);
      result = await runLoad(client);
      retries = (await client.stats().catch(() => undefined))?.calls.retries ?? 0;
    }
  } finally {
    store.dispatch({ type: 'phase', phase: 'stopping', at: clock() });
    stopWatch?.();
    await stopView?.();
    client?.close();
    await teardown(home, seen, io);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const empty: LoadResult = { started: 0, succeeded: 0, failed: 0, inFlight: 0, errors: {}, lost: 0, stopped: true, sessionCalls: new Map(), startedAt: 0, endedAt: 0 };
  const summary = summarize({ plan, result: result ?? empty, state: store.get(), agentIds, retries, interrupted: signalled !== null, home, pids: [...seen.keys()] });
  const clean = summary.lost === 0 && summary.failed === 0 && summary.succeeded === summary.requests;
  return { json: summary, text: formatSummary(summary, plan), exitCode: signalled ? SIGNAL_EXIT[signalled]! : clean ? EXIT.ok : EXIT.failed };

  /** The mixed load, the kill at its midpoint, then the wait for the killed agent's return. */
  async function runLoad(through: AgentClient): Promise<LoadResult> {
    const sessions = Array.from({ length: plan.sessions }, (_, i) => `demo-${i + 1}`);
    const victim = plan.kill ? agentToKill(sessions, agentIds) : null;
    const midway = Math.floor(plan.requests / 2);
    load = new MixedLoad(
      through,
      { requests: plan.requests, concurrency: plan.concurrency, sessions, workMs: DEMO_DEFAULTS.workMs, stallMs: DEMO_DEFAULTS.stallMs },
      {
        now: clock,
        onStart: (i) => {
          if (victim !== null && i === midway) killAgent(home, victim, store, clock);
        },
      },
    );
    store.dispatch({ type: 'load.started', at: clock() });
    const running = load;
    const ticker = setInterval(() => store.dispatch({ type: 'load', counts: running.snapshot(), at: clock() }), DEMO_DEFAULTS.tickMs);
    let done: LoadResult;
    try {
      done = await running.run();
    } finally {
      clearInterval(ticker);
    }
    store.dispatch({ type: 'load', counts: done, at: clock() });
    store.dispatch({ type: 'note', text: `load done: ${done.succeeded} succeeded, ${done.failed} failed, ${done.lost} lost`, tone: done.failed || done.lost ? 'bad' : 'good', at: clock() });
    // The router restarts the killed agent: wait for it, so the summary can say when it served again.
    if (store.get().kill && store.get().recoveredAt === null && !signalled) {
      store.dispatch({ type: 'phase', phase: 'recovering', at: clock() });
      const until = clock() + DEMO_DEFAULTS.recoveryWaitMs;
      while (store.get().recoveredAt === null && clock() < until && !signalled) await sleep(50, wake.signal);
    }
    return done;
  }
}

/**
 * SIGKILLs agent `id` of the demo's cluster: its pid and start time come from its own home, and
 * only a process proven to be that home's agent (src/daemon/home.ts) is signalled.
 */
function killAgent(home: string, id: string, store: DemoStore, clock: () => number): void {
  const entry = readInfo(homePaths(home))?.agents?.find((a) => a.id === id);
  const state = entry?.home ? agentState(homePaths(entry.home)) : undefined;
  if (state?.state !== 'running' || !isAlive(state.info.pid, state.info.startTime)) {
    store.dispatch({ type: 'note', text: `could not kill ${id}: it is not running (${state?.state ?? 'not a member'})`, tone: 'warn', at: clock() });
    return;
  }
  const at = clock();
  process.kill(state.info.pid, 'SIGKILL');
  store.dispatch({ type: 'killed', agent: id, pid: state.info.pid, at });
}

/** Feeds the router's WatchEvents stream into the store (snapshots and events), reopening it if it breaks. */
function watchRouter(client: AgentClient, store: DemoStore, clock: () => number, onStats: (s: AgentStats) => void): () => void {
  let stopped = false;
  let current: AsyncIterableIterator<unknown> | undefined;
  void (async () => {
    while (!stopped) {
      const updates = client.watch({ intervalMs: DEMO_DEFAULTS.statsIntervalMs });
      current = updates;
      try {
        for await (const u of updates) {
          if (stopped) break;
          if (u.type === 'stats') {
            onStats(u.stats);
            store.dispatch({ type: 'stats', stats: u.stats, at: clock() });
          } else if (u.type === 'event' && u.event.type !== 'call.finished') {
            store.dispatch({ type: 'event', event: u.event, at: clock() });
          }
        }
      } catch {
        /* reopened below while the demo runs */
      }
      if (!stopped) await sleep(200);
    }
  })();
  return () => {
    stopped = true;
    void current?.return?.().catch(() => undefined);
  };
}

async function liveView(store: DemoStore): Promise<() => Promise<void>> {
  const { renderLive } = await import('../../demo/View.js');
  const view = renderLive(store, !process.env.NO_COLOR);
  return () => view.close();
}

/** Not a terminal (or --json): events as they happen and one progress line per second, on stderr. */
function progressPrinter(store: DemoStore, io: Io): () => Promise<void> {
  let printed = 0;
  const flush = (): void => {
    const s = store.get();
    for (const e of s.log) {
      if (e.seq < printed) continue;
      io.stderr(`${logLine(s, e)}\n`);
      printed = e.seq + 1;
    }
  };
  const unsubscribe = store.subscribe(flush);
  const timer = setInterval(() => io.stderr(`${progressLine(store.get())}\n`), 1_000);
  return async () => {
    clearInterval(timer);
    unsubscribe();
    flush();
    io.stderr(`${progressLine(store.get())}\n`);
  };
}

/**
 * Stops the cluster and removes its home. Whatever the router did not stop (it stops
 * its agents, which stop their workers) is killed by pid, only while its start time is the one
 * seen in the cluster's own stats.
 */
async function teardown(home: string, seen: Map<number, number>, io: Io): Promise<void> {
  try {
    await clusterDownCommand({ home }, { ...io, stdout: () => {} });
  } catch (err) {
    io.stderr(`warning: cluster down failed (${(err as Error).message}); stopping its processes by pid\n`);
  }
  const survivors = (): Array<[number, number]> => [...seen].filter(([pid, start]) => isAlive(pid, start));
  const deadline = Date.now() + DEMO_DEFAULTS.goneWaitMs;
  while (survivors().length > 0 && Date.now() < deadline) await sleep(50);
  for (const [pid] of survivors()) {
    io.stderr(`warning: pid ${pid} of the demo's cluster outlived cluster down; SIGKILL\n`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
  rmSync(home, { recursive: true, force: true });
}
