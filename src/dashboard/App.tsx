// The dashboard's container: it owns the store, the watch loop and the key actions, and lays
// out the presentational components. Only the live area (everything but the event log) redraws,
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
import { workerWindow } from './format.js';
import { useKeyCommands, type KeyCommand } from './keys.js';
import { selectedWorker, type Tone } from './state.js';
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

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function App({ open, address, intervalMs, color, backoff, now = Date.now }: AppProps) {
  const store = useMemo(() => createStore(), []);
  const state = useSyncExternalStore(store.subscribe, store.get);
  const client = useAgentWatch(open, intervalMs, store.dispatch, backoff, now);
  const { exit } = useApp();
  const { isRawModeSupported } = useStdin();
  const { columns, rows } = useTerminalSize();

  const notice = (text: string, tone: Tone, log = false): void => store.dispatch({ type: 'notice', text, tone, at: now(), log });

  const onCommand = (command: KeyCommand): void => {
    const s = store.get();
    if (command !== 'drain') store.dispatch({ type: 'drain.cancel' });
    switch (command) {
      case 'quit':
        exit();
        return;
      case 'up':
      case 'down':
      case 'first':
      case 'last':
        store.dispatch({ type: 'select', delta: { up: -1, down: 1, first: -Infinity, last: Infinity }[command] });
        return;
      case 'restart': {
        const w = selectedWorker(s);
        const c = client.current;
        if (!c || s.connection !== 'live') return notice('not connected to an agent', 'warn');
        if (!w) return notice('no worker to restart', 'warn');
        notice(`restarting ${w.id} (pid ${w.pid})…`, 'info');
        c.restartWorker(w.id).then(
          () => notice(`${w.id} restarted`, 'good'),
          (err: unknown) => notice(`restart of ${w.id} failed: ${describe(err)}`, 'bad', true),
        );
        return;
      }
      case 'drain': {
        const c = client.current;
        if (!c || s.connection !== 'live') return notice('not connected to an agent', 'warn');
        if (!s.confirmDrain) {
          store.dispatch({ type: 'drain.ask' });
          return;
        }
        store.dispatch({ type: 'drain.cancel' });
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
  };
  useKeyCommands(onCommand, isRawModeSupported);

  const stats = state.stats;
  const live = state.connection === 'live';
  return (
    <>
      <EventLog epoch={state.log.epoch} entries={state.log.entries} color={color} />
      <Box flexDirection="column" width={columns}>
        <Header agent={stats?.agent ?? null} address={address} stale={!!stats && !live} color={color} />
        <StatusLine
          connection={state.connection}
          problem={state.problem}
          retryInMs={state.retryInMs}
          confirmDrain={state.confirmDrain}
          notice={state.notice}
          address={address}
          intervalMs={intervalMs}
          color={color}
        />
        {stats ? (
          <>
            <Rates throughput={state.throughput} latencyMs={stats.latencyMs} color={color} />
            <Pools calls={stats.calls} queue={stats.queue} pools={stats.pools} color={color} />
            <WorkerTable
              workers={stats.workers}
              selected={state.selected}
              window={workerWindow(stats.workers.length, state.selected, rows, stats.pools.length)}
              color={color}
            />
          </>
        ) : state.connection === 'absent' ? (
          <NoAgent problem={state.problem} />
        ) : null}
        <HelpLine />
      </Box>
    </>
  );
}
