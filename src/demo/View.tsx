// The live view of `snakepit cluster demo` on a terminal: the event log (kill, detection,
// recovery) printed once above with <Static>, and a short live area redrawn at most 5 times a
// second: the load's totals, a progress bar and one row per agent (state, calls/s, in flight).
// It reads keys from nobody, so Ctrl-C stays a signal the command handles (stop, clean up).
// Presentational components over the pure state (state.ts); the container only subscribes.
import { useSyncExternalStore } from 'react';
import { Box, Static, Text, render } from 'ink';
import { callsPerSecond, elapsedMs, formatRate, formatSeconds, logLine, type AgentRow, type DemoState, type LogEntry, type Tone } from './state.js';
import type { DemoStore } from './store.js';

/** The most frames per second. */
export const MAX_FPS = 5;

const TONES: Record<Tone, string | undefined> = { info: undefined, good: 'green', warn: 'yellow', bad: 'red' };
const tone = (t: Tone, color: boolean): string | undefined => (color ? TONES[t] : undefined);

export function stateTone(state: string): Tone {
  if (state === 'alive') return 'good';
  if (state === 'down') return 'bad';
  return 'warn';
}

const COLUMNS = ['AGENT', 'STATE', 'PID', 'CALLS/S', 'IN FLIGHT', 'RESTARTS'] as const;
const WIDTHS = [10, 9, 8, 9, 10, 8] as const;

export function agentCells(a: AgentRow): string[] {
  const up = a.state === 'alive' || a.state === 'suspect';
  return [a.id, a.state, a.pid && up ? String(a.pid) : '-', up ? formatRate(a.rate) : '-', String(a.inFlight), String(a.restarts)];
}

const row = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(WIDTHS[i]!)).join('').trimEnd();

export function AgentTable({ agents, color }: { readonly agents: readonly AgentRow[]; readonly color: boolean }) {
  return (
    <Box flexDirection="column">
      <Text bold>{row(COLUMNS)}</Text>
      {agents.map((a) => {
        const cells = agentCells(a);
        return (
          <Text key={a.id}>
            {cells[0]!.padEnd(WIDTHS[0])}
            <Text color={tone(stateTone(a.state), color)}>{cells[1]!.padEnd(WIDTHS[1])}</Text>
            {row(cells.slice(2).map((c, i) => c.padEnd(WIDTHS[i + 2]!)))}
          </Text>
        );
      })}
    </Box>
  );
}

export function progressBar(done: number, total: number, width: number): string {
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

export function Totals({ state, color }: { readonly state: DemoState; readonly color: boolean }) {
  const c = state.counts;
  const answered = c.succeeded + c.failed;
  const phase = state.phase === 'booting' ? 'starting the cluster…' : state.phase === 'recovering' ? 'load done; waiting for the killed agent to come back…' : state.phase === 'stopping' ? 'stopping the cluster…' : '';
  return (
    <Box flexDirection="column">
      <Text>
        {formatSeconds(elapsedMs(state)).padStart(7)}  {progressBar(answered, state.plan.requests, 24)} {answered}/{state.plan.requests} calls  {formatRate(callsPerSecond(state))} calls/s  {c.inFlight} in flight
      </Text>
      <Text>
        {'         '}
        <Text color={tone('good', color)}>{c.succeeded} succeeded</Text>  <Text color={tone(c.failed ? 'bad' : 'info', color)}>{c.failed} failed</Text>
        {phase ? `  ${phase}` : ''}
      </Text>
    </Box>
  );
}

export function DemoView({ state, color }: { readonly state: DemoState; readonly color: boolean }) {
  const p = state.plan;
  return (
    <>
      <Static items={state.log}>
        {(e: LogEntry) => (
          <Text key={e.seq} color={tone(e.tone, color)}>
            {logLine(state, e)}
          </Text>
        )}
      </Static>
      <Box flexDirection="column" marginTop={1}>
        <Text bold>
          snakepit cluster demo: {p.agents} agents × {p.workers} workers, {p.requests} calls at concurrency {p.concurrency}
          {p.kill ? ', one agent SIGKILLed midway' : ''}
        </Text>
        <Totals state={state} color={color} />
        <AgentTable agents={state.agents} color={color} />
      </Box>
    </>
  );
}

function LiveDemo({ store, color }: { readonly store: DemoStore; readonly color: boolean }) {
  const state = useSyncExternalStore(store.subscribe, store.get);
  return <DemoView state={state} color={color} />;
}

/** Renders the live view until `close()`; the last frame stays on the terminal. */
export function renderLive(store: DemoStore, color: boolean): { close(): Promise<void> } {
  // Ink draws no live frames when it believes it runs in CI; stdout is a terminal here.
  delete process.env.CI;
  delete process.env.CONTINUOUS_INTEGRATION;
  const app = render(<LiveDemo store={store} color={color} />, { maxFps: MAX_FPS, exitOnCtrlC: false, patchConsole: false });
  return {
    close: async () => {
      app.unmount();
      await app.waitUntilExit();
    },
  };
}
