// `snakepit doctor cleanup [--dry-run]`: kills the processes of dead runs that the home's process
// registry proves are ours (TERM, then KILL), and nothing else. Exit 1 when one survives.
import { cleanupOrphans, type Orphan } from '../../daemon/cleanup.js';
import { homePaths, resolveHome, verifyHome } from '../../daemon/home.js';
import { EXIT } from '../../errors.js';
import type { CommandResult } from '../output.js';
import { count } from '../../text.js';

export async function doctorCleanupCommand(opts: { home?: string; dryRun?: boolean }): Promise<CommandResult> {
  const home = resolveHome(opts.home);
  // A registry in a home someone else can write proves nothing: refuse before reading it.
  verifyHome(homePaths(home));
  const r = await cleanupOrphans(home, { dryRun: !!opts.dryRun });
  const ok = r.survived.length === 0;
  const line = (o: Orphan): string => `  pid ${o.pid} (pgid ${o.pgid}) ${o.cmdline.join(' ')}\n    ${o.why}`;
  const text: string[] = [];
  if (r.found.length === 0) text.push(`no orphans of dead runs in ${home}`);
  else if (r.dryRun) text.push(`would kill ${count(r.found.length, 'process', 'processes')} (dry run, nothing signalled):`, ...r.found.map(line));
  else {
    if (r.killed.length) text.push(`killed ${count(r.killed.length, 'process', 'processes')}:`, ...r.killed.map(line));
    if (r.survived.length) text.push(`still alive after SIGKILL (check permissions):`, ...r.survived.map(line));
  }
  if (r.cgroupsLeft.length) text.push(`cgroups still holding processes (kept in the registry): ${r.cgroupsLeft.join(', ')}`);
  if (r.removedRuns.length) text.push(`forgot ${count(r.removedRuns.length, 'dead run')} in the registry`);
  return { json: { ok, home, ...r }, text: text.join('\n'), exitCode: ok ? EXIT.ok : EXIT.failed };
}
