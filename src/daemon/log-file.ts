// The daemon's log file, rotated by size (one `.1` generation kept). Synchronous appends: log
// volume is modest and a line is never lost when the process dies right after writing it.
import { closeSync, existsSync, openSync, renameSync, statSync, writeSync } from 'node:fs';

export class LogFile {
  private fd: number;
  private bytes: number;

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
  ) {
    this.bytes = existsSync(path) ? statSync(path).size : 0;
    if (this.bytes >= maxBytes) this.rotate();
    this.fd = openSync(path, 'a', 0o600);
  }

  write(line: string): void {
    const buf = Buffer.from(line);
    if (this.bytes + buf.length > this.maxBytes && this.bytes > 0) {
      closeSync(this.fd);
      this.rotate();
      this.fd = openSync(this.path, 'a', 0o600);
    }
    writeSync(this.fd, buf);
    this.bytes += buf.length;
  }

  close(): void {
    closeSync(this.fd);
  }

  private rotate(): void {
    renameSync(this.path, `${this.path}.1`);
    this.bytes = 0;
  }
}
