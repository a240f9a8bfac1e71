// A real local cluster for a test file: `snakepit cluster up` in a private home (a router daemon
// and its agent daemons), a connect() client through the router, the agents' pids, and a watch
// of the router's events. `stop()` runs `cluster down` and kills by recorded pid whatever of it
// is still alive (never by name).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type AgentClient, type AgentEvent } from '../../src/index.js';
import { PYTHON, killPids, pidAlive, runCli, tempDir } from '../helpers/env.js';

export interface Cluster {
  home: string;
  env: Record<string, string>;
  client: AgentClient;
  routerPid: number;
  /** The live pid of agent `id` (from its sub-home's agent.json). */
  agentPid(id: string): number;
  /** Events of the router's watch stream since the cluster started, with when they arrived. */
  events: Array<{ at: number; event: AgentEvent }>;
  /** The first event matching `test` at or after `since`, waited for up to `ms`. */
  nextEvent(test: (e: AgentEvent) => boolean, since: number, ms?: number): Promise<{ at: number; event: AgentEvent }>;
  stop(): Promise<void>;
}

export async function startCluster(args: string[], env: Record<string, string> = {}): Promise<Cluster> {
  const dir = tempDir('sp-cl-');
  const home = join(dir.path, 'h');
  const fullEnv = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config'), ...env };
  const up = await runCli(['cluster', 'up', '--home', home, ...args, '--json'], { env: fullEnv, timeoutMs: 120_000 });
  if (up.code !== 0) {
    dir.cleanup();
    throw new Error(`cluster up failed (${up.code}): ${up.stderr}`);
  }
  const routerPid = (JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number }).pid;
  const seen = new Set<number>([routerPid]);
  const agentPid = (id: string): number => {
    const pid = (JSON.parse(readFileSync(join(home, 'agents', id.replace(/^agent-/, ''), 'agent.json'), 'utf8')) as { pid: number }).pid;
    seen.add(pid);
    return pid;
  };
  for (const n of readdirSync(join(home, 'agents'))) agentPid(`agent-${n}`);
  const client = connect({ home });
  const events: Array<{ at: number; event: AgentEvent }> = [];
  const watch = client.watch({ intervalMs: 1_000 });
  void (async () => {
    try {
      for await (const u of watch) if (u.type === 'event') events.push({ at: Date.now(), event: u.event });
    } catch {
      /* the cluster went down */
    }
  })();
  const nextEvent = async (test: (e: AgentEvent) => boolean, since: number, ms = 10_000): Promise<{ at: number; event: AgentEvent }> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = events.find((e) => e.at >= since && test(e.event));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching event within ${ms} ms; seen: ${events.map((e) => `${e.event.type}:${(e.event as { state?: string }).state ?? ''}@${e.event.agent}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return {
    home,
    env: fullEnv,
    client,
    routerPid,
    agentPid,
    events,
    nextEvent,
    async stop() {
      await watch.return?.();
      client.close();
      for (const pid of seen) if (pidAlive(pid)) process.kill(pid, 'SIGCONT');
      await runCli(['cluster', 'down', '--home', home], { env: fullEnv, timeoutMs: 60_000 });
      killPids([...seen].filter(pidAlive));
      dir.cleanup();
    },
  };
}

/** Which agent served a `whoami` result, by the pid of the worker that answered. */
export async function agentOfWorker(c: Cluster, workerPid: number): Promise<string | undefined> {
  const stats = await c.client.stats();
  return stats.workers.find((w) => w.pid === workerPid)?.agent;
}
