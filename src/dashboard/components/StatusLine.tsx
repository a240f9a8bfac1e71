// One line about the connection and the last action: retrying, a pending drain confirmation, or
// the feedback of `r` / `d`. Always exactly one line, so the layout does not jump.
import { Text } from 'ink';
import type { DashboardState } from '../state.js';
import { toneColor } from './tone.js';

export interface StatusLineProps {
  readonly connection: DashboardState['connection'];
  readonly problem: string | null;
  readonly retryInMs: number;
  readonly confirmDrain: boolean;
  /** Behind a router: the agent a `d` drains (null: the agent watched). */
  readonly drainTarget?: string | null;
  readonly notice: DashboardState['notice'];
  readonly address: string;
  readonly intervalMs: number;
  readonly color: boolean;
}

export function StatusLine(p: StatusLineProps) {
  let text: string;
  let tone: 'info' | 'good' | 'warn' | 'bad' = 'info';
  if (p.connection === 'absent' || p.connection === 'lost') {
    // While no agent ever answered, the lines below say why and how to start one.
    const why = p.connection === 'lost' && p.problem ? ` (${p.problem})` : '';
    text = `agent not reachable — retrying in ${(p.retryInMs / 1000).toFixed(1)} s…${why}`;
    tone = 'bad';
  } else if (p.confirmDrain) {
    text = p.drainTarget
      ? `press d again to drain ${p.drainTarget} (no new calls; its calls finish) · any other key cancels`
      : 'press d again to drain the agent (it stops when calls finish) · any other key cancels';
    tone = 'warn';
  } else if (p.notice) {
    text = p.notice.text;
    tone = p.notice.tone;
  } else if (p.connection === 'connecting') {
    text = `connecting to ${p.address}…`;
  } else {
    text = `● live · a snapshot every ${p.intervalMs >= 1000 ? `${p.intervalMs / 1000} s` : `${p.intervalMs} ms`}`;
    tone = 'good';
  }
  return (
    <Text wrap="truncate-end" color={toneColor(tone, p.color)}>
      {text}
    </Text>
  );
}
