// A router's agents, one row each, with a totals row: state, suspicion (phi), breaker, the
// router's calls in flight to it, workers and calls/s. The selected agent is marked: `>` while
// the arrows move in this table, `•` while they move in its workers. Only the rows that fit are
// drawn, like the worker table.
import { Box, Text } from 'ink';
import { AGENT_COLUMNS, cell, formatPhi, formatRate, tableLine, type RowWindow } from '../format.js';
import type { ClusterAgent, ClusterTotals } from '../state.js';
import { accent, stateTone, toneColor } from './tone.js';

export interface AgentTableProps {
  readonly agents: readonly ClusterAgent[];
  /** Calls/s by agent id (absent: not known yet, or the agent did not answer). */
  readonly rates: Readonly<Record<string, number>>;
  readonly totals: ClusterTotals;
  readonly selected: string | null;
  /** The arrows move in this table. */
  readonly focused: boolean;
  readonly window: RowWindow;
  readonly color: boolean;
}

const rate = (r: number | null | undefined): string => (r === null || r === undefined ? '—' : formatRate(r));

export function AgentTable({ agents, rates, totals, selected, focused, window, color }: AgentTableProps) {
  const above = window.start;
  const below = agents.length - window.end;
  return (
    <Box flexDirection="column" marginTop={1}>
      <Text bold wrap="truncate-end">{`  ${tableLine(AGENT_COLUMNS.map(([h]) => h), AGENT_COLUMNS)}`}</Text>
      {agents.slice(window.start, window.end).map((a) => {
        const mark = a.id === selected;
        const highlight = mark && focused;
        const rest = [String(a.inFlight), String(a.workerPids.length), rate(rates[a.id])];
        return (
          <Text key={a.id} wrap="truncate-end" color={highlight ? accent(color) : undefined} bold={mark}>
            {`${mark ? (focused ? '> ' : '• ') : '  '}${cell(a.id, 0, AGENT_COLUMNS)}${cell(String(a.pid || '-'), 1, AGENT_COLUMNS)}`}
            <Text color={highlight ? accent(color) : toneColor(stateTone(a.state), color)}>{cell(a.state, 2, AGENT_COLUMNS)}</Text>
            {cell(formatPhi(a.phi), 3, AGENT_COLUMNS)}
            <Text color={highlight ? accent(color) : toneColor(a.breaker === 'open' ? 'bad' : a.breaker === 'closed' ? 'info' : 'warn', color)}>{cell(a.breaker, 4, AGENT_COLUMNS)}</Text>
            {rest.map((v, j) => cell(v, j + 5, AGENT_COLUMNS)).join('').trimEnd()}
          </Text>
        );
      })}
      {window.hidden > 0 ? <Text dimColor>{`  … ${window.hidden} more${above ? ` (${above} above, ${below} below)` : ''}`}</Text> : null}
      {agents.length === 0 ? <Text dimColor>  no agents</Text> : null}
      <Text dimColor wrap="truncate-end">
        {`  ${tableLine([`total (${totals.agents})`, '', `${totals.alive} alive`, '', '', String(totals.inFlight), String(totals.workers), rate(totals.callsPerSec)], AGENT_COLUMNS)}`}
      </Text>
    </Box>
  );
}
