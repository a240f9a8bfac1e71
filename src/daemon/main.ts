// Entry of the detached daemon process that `snakepit up` spawns. Options arrive as JSON in argv.
import { runDaemon, announceOnFd3, type DaemonOptions } from './run.js';

const raw = process.argv[2];
if (!raw) {
  process.stderr.write('snakepit daemon: missing options (this process is started by `snakepit up`)\n');
  process.exit(2);
}
const opts = JSON.parse(raw) as DaemonOptions;
process.title = 'snakepit-agent';
runDaemon(opts, announceOnFd3).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`snakepit daemon crashed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
