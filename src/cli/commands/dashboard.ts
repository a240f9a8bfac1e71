// `snakepit dashboard`: a live view of the agent fed by one WatchEvents stream. On a terminal it
// runs the Ink app (loaded only then); otherwise (a pipe, a file, --json) it prints one snapshot,
// the first stats of the stream, and exits, so scripts and CI logs get plain text.
import { connect } from '../../api/client.js';
import { DEFAULTS } from '../../defaults.js';
import { SnakepitError } from '../../errors.js';
import type { CommandResult } from '../output.js';
import { formatStats } from './stats.js';
import { targetOptions, type TargetFlags } from '../target.js';

export interface DashboardCommandOptions extends TargetFlags {
  interval?: number;
  json?: boolean;
}

export async function dashboardCommand(opts: DashboardCommandOptions): Promise<CommandResult> {
  const intervalMs = opts.interval ?? DEFAULTS.watchIntervalMs;
  // Keys need a terminal on stdin as well (raw mode); without one there is nothing to steer.
  const interactive = !opts.json && process.stdout.isTTY === true && process.stdin.isTTY === true;
  if (!interactive) return snapshot(opts, intervalMs);
  const { runDashboard } = await import('../../dashboard/run.js');
  await runDashboard({
    target: targetOptions(opts),
    intervalMs,
    color: !process.env.NO_COLOR,
  });
  return { json: null, text: '' };
}

async function snapshot(opts: DashboardCommandOptions, intervalMs: number): Promise<CommandResult> {
  const client = connect(targetOptions(opts));
  try {
    // No agent: the stream fails with AGENT_UNAVAILABLE, which the CLI reports with exit code 3.
    for await (const update of client.watch({ intervalMs })) {
      if (update.type === 'stats') return { json: update.stats, text: formatStats(update.stats) };
    }
    throw new SnakepitError('AGENT_UNAVAILABLE', 'the agent closed the watch stream before its first snapshot');
  } finally {
    client.close();
  }
}
