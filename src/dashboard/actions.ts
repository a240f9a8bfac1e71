// What a key command does: state changes go through the reducer, requests to the agent (restart,
// drain, cordon) through the client of the live stream, and their outcome comes back as notices.
// Behind a router the keys act on the selected agent (c, d) or the selected worker of it (r).
import type { KeyCommand } from './keys.js';
import { clusterAgents, selectedAgent, selectedWorker, type DashboardAction, type DashboardState, type Tone } from './state.js';
import type { DashboardClient } from './watch.js';

export interface CommandContext {
  /** The state the moment the key was pressed (the store's, not the last render's). */
  readonly state: DashboardState;
  /** The client of the live stream, if any. */
  readonly client: DashboardClient | null;
  dispatch(action: DashboardAction): void;
  now(): number;
  exit(): void;
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The reply of `drainAgent` as a sentence: a boolean or `{ drained }` says whether in time. */
function drained(agent: string, reply: unknown): { text: string; tone: Tone } {
  const inTime = typeof reply === 'boolean' ? reply : typeof reply === 'object' && reply !== null && 'drained' in reply ? Boolean((reply as { drained: unknown }).drained) : true;
  return inTime ? { text: `${agent} drained: its calls finished, it takes no new ones`, tone: 'warn' } : { text: `${agent}: the drain deadline passed before its calls finished`, tone: 'warn' };
}

export function runCommand(command: KeyCommand, ctx: CommandContext): void {
  const s = ctx.state;
  const notice = (text: string, tone: Tone, log = false): void => ctx.dispatch({ type: 'notice', text, tone, at: ctx.now(), log });
  const agents = clusterAgents(s);
  if (command !== 'drain') ctx.dispatch({ type: 'drain.cancel' });
  switch (command) {
    case 'quit':
      ctx.exit();
      return;
    case 'up':
    case 'down':
    case 'first':
    case 'last':
      ctx.dispatch({ type: 'select', delta: { up: -1, down: 1, first: -Infinity, last: Infinity }[command] });
      return;
    case 'focus':
      ctx.dispatch({ type: 'focus', to: 'toggle' });
      return;
    case 'agents':
    case 'workers':
      ctx.dispatch({ type: 'focus', to: command });
      return;
    case 'restart': {
      const c = ctx.client;
      if (!c || s.connection !== 'live') return notice('not connected to an agent', 'warn');
      const agent = selectedAgent(s);
      if (agents && s.focus === 'agents') return notice(`tab to the workers of ${agent?.id ?? 'an agent'} to pick the one to restart`, 'info');
      const w = selectedWorker(s);
      if (!w) return notice('no worker to restart', 'warn');
      // A router names a worker by agent and id (ids repeat across agents).
      const id = agent ? `${agent.id}/${w.id}` : w.id;
      notice(`restarting ${id} (pid ${w.pid})…`, 'info');
      c.restartWorker(id).then(
        () => notice(`${id} restarted`, 'good'),
        (err: unknown) => notice(`restart of ${id} failed: ${describe(err)}`, 'bad', true),
      );
      return;
    }
    case 'cordon': {
      const c = ctx.client;
      if (!c || s.connection !== 'live') return notice('not connected to an agent', 'warn');
      const agent = selectedAgent(s);
      if (!agents) return notice('c cordons an agent of a cluster; this is a single agent', 'info');
      if (!agent) return notice('no agent to cordon', 'warn');
      const on = agent.state !== 'cordoned';
      const verb = on ? 'cordon' : 'uncordon';
      if (typeof c.cordon !== 'function') return notice(`${verb} ${agent.id}: not supported by this agent`, 'warn');
      notice(`${on ? 'cordoning' : 'uncordoning'} ${agent.id}…`, 'info');
      // The router reports the new state itself (a cluster.agent event in the log).
      c.cordon(agent.id, on).then(
        () => notice(on ? `${agent.id} cordoned: no new calls or sessions go to it (c again uncordons)` : `${agent.id} uncordoned: it takes calls again`, on ? 'warn' : 'good'),
        (err: unknown) => notice(`${verb} of ${agent.id} failed: ${describe(err)}`, 'bad', true),
      );
      return;
    }
    case 'drain': {
      const c = ctx.client;
      if (!c || s.connection !== 'live') return notice('not connected to an agent', 'warn');
      const agent = agents ? selectedAgent(s) : undefined;
      if (agents && !agent) return notice('no agent to drain', 'warn');
      // Behind a router `d` drains the selected agent, never the whole cluster.
      if (agent && typeof c.drainAgent !== 'function') return notice(`drain ${agent.id}: not supported by this agent`, 'warn');
      if (!s.confirmDrain) {
        ctx.dispatch({ type: 'drain.ask' });
        return;
      }
      ctx.dispatch({ type: 'drain.cancel' });
      if (agent) {
        notice(`draining ${agent.id}: it takes no new calls, its accepted calls finish…`, 'warn');
        c.drainAgent!(agent.id).then(
          (reply) => {
            const n = drained(agent.id, reply);
            notice(n.text, n.tone, true);
          },
          (err: unknown) => notice(`drain of ${agent.id} failed: ${describe(err)}`, 'bad', true),
        );
        return;
      }
      notice('draining: accepted calls finish, then the agent stops…', 'warn');
      c.drain().then(
        (r) => notice(r.drained ? `agent drained and stopped (pid ${r.pid})` : `drain deadline passed; agent stopped (pid ${r.pid})`, 'warn', true),
        (err: unknown) => notice(`drain failed: ${describe(err)}`, 'bad', true),
      );
      return;
    }
    case 'other':
      return;
  }
}
