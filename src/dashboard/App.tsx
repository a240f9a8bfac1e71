// The dashboard's container: it owns the store, the watch loop and the key actions, and lays
// out the presentational components (behind a router: the agent table and the selected agent's
// workers instead of the worker table). Only the live area (everything but the event log) redraws,
// and it is kept shorter than the terminal: Ink clears the whole screen on every frame otherwise.
import { useMemo, useSyncExternalStore } from 'react';
import { Box, useApp, useStdin } from 'ink';
import { EventLog } from './components/EventLog.js';
import { Header } from './components/Header.js';
import { HelpLine } from './components/HelpLine.js';
import { NoAgent } from './components/NoAgent.js';
import { Pools } from './components/Pools.js';
import { Rates } from './components/Rates.js';
import { StatusLine } from './components/StatusLine.js';
import { WorkerTable } from './components/WorkerTable.js';
import { runCommand } from './actions.js';
import { AgentTable } from './components/AgentTable.js';
import { clusterWindows, workerWindow } from './format.js';
import { useKeyCommands, type KeyCommand } from './keys.js';
import { clusterAgents, clusterTotals, selectedAgent, selectedWorkers, type ClusterAgent, type DashboardState } from './state.js';
import { createStore } from './store.js';
import { useTerminalSize } from './terminal.js';
import { useAgentWatch, type Backoff, type DashboardClient } from './watch.js';

export type { DashboardClient, Backoff };

export interface AppProps {
  /** A new client per connection attempt (the same address each time). */
  readonly open: () => DashboardClient;
  /** Where the agent is expected, for the header. */
  readonly address: string;
  /** Interval of stats snapshots, ms: also the most frames per second the data can cause. */
  readonly intervalMs: number;
  readonly color: boolean;
  readonly backoff?: Backoff;
  readonly now?: () => number;
}

export function App({ open, address, intervalMs, color, backoff, now = Date.now }: AppProps) {
  const store = useMemo(() => createStore(), []);
  const state = useSyncExternalStore(store.subscribe, store.get);
  const client = useAgentWatch(open, intervalMs, store.dispatch, backoff, now);
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const { columns, rows } = useTerminalSize();

  const onCommand = (command: KeyCommand): void => runCommand(command, { state: store.get(), client: client.current, dispatch: store.dispatch, now, exit });
  useKeyCommands(onCommand, isRawModeSupported);

  const stats = state.stats;
  const live = state.connection === 'live';
  const agents = clusterAgents(state);
  return (
    <>
      <EventLog epoch={state.log.epoch} entries={state.log.entries} color={color} />
      <Box flexDirection="column" width={columns}>
        <Header agent={stats?.agent ?? null} address={address} stale={!!stats && !live} color={color} {...(agents ? { agents: agents.length } : {})} />
        <StatusLine
          connection={state.connection}
          problem={state.problem}
          retryInMs={state.retryInMs}
          confirmDrain={state.confirmDrain}
          drainTarget={agents ? state.selectedAgent : null}
          notice={state.notice}
          address={address}
          intervalMs={intervalMs}
          color={color}
        />
        {stats ? (
          <>
            <Rates throughput={state.throughput} latencyMs={stats.latencyMs} color={color} />
            <Pools calls={stats.calls} queue={stats.queue} pools={stats.pools} color={color} />
            {agents ? (
              <ClusterTables state={state} agents={agents} rows={rows} pools={stats.pools.length} color={color} />
            ) : (
              <WorkerTable
                workers={stats.workers}
                selected={state.selected}
                window={workerWindow(stats.workers.length, state.selected, rows, stats.pools.length)}
                color={color}
              />
            )}
          </>
        ) : state.connection === 'absent' ? (
          <NoAgent problem={state.problem} />
        ) : null}
        <HelpLine {...(agents ? { focus: state.focus } : {})} />
      </Box>
    </>
  );
}

/** A router's view: its agents with totals, then the selected agent's workers. */
function ClusterTables({ state, agents, rows, pools, color }: { state: DashboardState; agents: ClusterAgent[]; rows: number; pools: number; color: boolean }) {
  const agent = selectedAgent(state);
  const workers = selectedWorkers(state);
  const windows = clusterWindows(
    { total: agents.length, selected: Math.max(0, agents.findIndex((a) => a.id === state.selectedAgent)) },
    { total: workers.length, selected: state.selected },
    rows,
    pools,
  );
  const caption = agent ? `workers of ${agent.id}${agent.pid ? ` (pid ${agent.pid})` : ''}` : 'workers';
  return (
    <>
      <AgentTable agents={agents} rates={state.agentRates} totals={clusterTotals(agents, state.agentRates)} selected={state.selectedAgent} focused={state.focus === 'agents'} window={windows.agents} color={color} />
      <WorkerTable
        workers={workers}
        selected={state.selected}
        window={windows.workers}
        color={color}
        focused={state.focus === 'workers'}
        caption={caption}
        empty={agent && !agent.stats ? `${agent.id} did not answer (${agent.state})` : 'no workers'}
      />
    </>
  );
}
