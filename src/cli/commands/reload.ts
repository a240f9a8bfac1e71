// `snakepit reload`: replace every worker one at a time, so new tool code is picked up with no
// failed call (each replacement is ready before the worker it replaces stops). An agent started
// from a config reads it again first: a new size resizes the pool, other settings apply to the
// replacements, and an invalid config fails before any worker is touched.
// `snakepit scale N`: resize a running pool.
import { connect } from '../../api/client.js';
import type { CommandResult } from '../output.js';
import { targetOptions, type TargetFlags } from '../target.js';
import { count } from '../../text.js';

export async function reloadCommand(opts: TargetFlags & { pool?: string }): Promise<CommandResult> {
  const client = connect(targetOptions(opts));
  try {
    const { replaced, changes } = await client.reloadReport(opts.pool);
    const changed = changes.length ? `\nconfig changes applied:\n${changes.map((c) => `  ${c}`).join('\n')}` : '';
    return { json: { ok: true, replaced, changes }, text: `reloaded: ${count(replaced, 'worker')} replaced${changed}` };
  } finally {
    client.close();
  }
}

export async function scaleCommand(size: number, opts: { home?: string; pool?: string }): Promise<CommandResult> {
  const client = connect(opts.home ? { home: opts.home } : {});
  try {
    const r = await client.scalePool(size, opts.pool ? { pool: opts.pool } : {});
    const text = r.previous === r.size ? `pool ${r.pool} already has ${count(r.size, 'worker')}` : `pool ${r.pool} scaled from ${r.previous} to ${count(r.size, 'worker')}`;
    return { json: { ok: true, ...r }, text };
  } finally {
    client.close();
  }
}
