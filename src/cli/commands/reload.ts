// `snakepit reload`: replace every worker one at a time, so new tool code is picked up with no
// failed call (each replacement is ready before the worker it replaces stops).
import { connect } from '../../api/client.js';
import type { CommandResult } from '../output.js';
import { targetOptions, type TargetFlags } from '../target.js';
import { count } from '../../text.js';

export async function reloadCommand(opts: TargetFlags & { pool?: string }): Promise<CommandResult> {
  const client = connect(targetOptions(opts));
  try {
    const replaced = await client.reload(opts.pool);
    return { json: { ok: true, replaced }, text: `reloaded: ${count(replaced, 'worker')} replaced` };
  } finally {
    client.close();
  }
}
