// Small file helpers shared by the daemon's state files and the process registry: a reader of
// any of them (another CLI, a crashed agent's successor) must never see a half-written file.
import { renameSync, rmSync, writeFileSync } from 'node:fs';

/** Writes a file atomically (write to a temp name in the same directory, then rename). */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    rmSync(tmp, { force: true });
    writeFileSync(tmp, data, { mode, flag: 'wx' }); // never through something planted under the temp name
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
