// Entry of the detached daemon process that `snakepit up` spawns. Its options arrive as JSON on
// an inherited pipe (fd 4), read to EOF before anything else: never on the command line, which
// every user can read in /proc/PID/cmdline (the pools' `env` may hold API keys).
import { Socket } from 'node:net';
import { fstatSync } from 'node:fs';
import type { DaemonOptions } from './run.js';

/** The fd `snakepit up` writes the daemon's options to. */
export const OPTIONS_FD = 4;

function readOptions(): Promise<string> {
  try {
    fstatSync(OPTIONS_FD);
  } catch {
    return Promise.reject(new Error('missing options (this process is started by `snakepit up`)'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const pipe = new Socket({ fd: OPTIONS_FD, readable: true, writable: false });
    pipe.on('data', (c: Buffer) => chunks.push(c));
    pipe.on('end', () => {
      pipe.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    pipe.on('error', reject);
  });
}

process.title = 'snakepit-agent';
readOptions()
  .then(async (raw) => {
    const opts = JSON.parse(raw) as DaemonOptions;
    // A router's agents take longest to start: they are launched before the rest of the daemon
    // is even loaded, so that loading overlaps with them.
    const early = opts.cluster ? (await import('../cluster/local-membership.js')).prelaunchCluster(opts) : undefined;
    const { runDaemon, announceOnFd3 } = await import('./run.js');
    const code = await runDaemon(opts, announceOnFd3, early);
    // The daemon returned before it took them over (it refused to start): stop them.
    if (early && !early.membership.adopted) await early.membership.stop();
    return code;
  })
  .then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`snakepit daemon crashed: ${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
