// `snakepit setup`: find a Python ≥ 3.9 that imports the runtime, remember it, say what it chose.
// `--check` only checks (nothing is remembered).
import { findPython } from '../../python/find.js';
import { rememberPython } from '../../python/remembered.js';
import type { CommandResult } from '../output.js';

export async function setupCommand(opts: { python?: string; check?: boolean }): Promise<CommandResult> {
  const info = await findPython({ python: opts.python, cwd: process.cwd() });
  let configFile: string | null = null;
  if (!opts.check) configFile = await rememberPython({ ...info, checkedAt: new Date().toISOString() });
  const what = `Python ${info.python} at ${info.executable} (${info.source}), snakepit runtime ${info.runtime}`;
  return {
    json: { ok: true, python: info.executable, version: info.python, runtime: info.runtime, source: info.source, remembered: !opts.check, configFile },
    text: opts.check ? `ok: ${what}` : `using ${what}\nremembered in ${configFile}`,
  };
}
