#!/usr/bin/env node
// Profiles the router's per-call path: starts `cluster up --agents 1 --workers 1` with
// `--cpu-prof` on both daemons (SNAKEPIT_DAEMON_NODE_FLAGS), runs N tiny calls (`add`) with C in
// flight through the router, stops the cluster, and prints for the router and for its agent the
// CPU per call (utime+stime from /proc/PID/stat), read/write syscalls per call (/proc/PID/io) and
// the profile of the load window (self time by function, by file, and by stage of the call path).
// Reports numbers only; nothing is asserted. Needs `npm run build` first.
//
//   node scripts/profile-router.mjs [--calls N] [--concurrency C] [--out DIR] [--interval US] [--top K]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../dist/index.js';
import { summarise } from './cpuprofile-summary.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const calls = Number(opt('--calls', '40000'));
const conc = Number(opt('--concurrency', '64'));
const interval = Number(opt('--interval', '200'));
const top = Number(opt('--top', '25'));
const out = opt('--out', undefined) ?? mkdtempSync(join(tmpdir(), 'sp-prof-'));
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'snakepit.js');

const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
const cpuUs = (pid) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1e6) / ticks;
};
const io = (pid) => Object.fromEntries(readFileSync(`/proc/${pid}/io`, 'utf8').trim().split('\n').map((l) => l.split(': ')).map(([k, v]) => [k, Number(v)]));

mkdirSync(out, { recursive: true });
const dir = mkdtempSync(join(tmpdir(), 'sp-prof-h-'));
const home = join(dir, 'h');
const env = { ...process.env, SNAKEPIT_CONFIG_DIR: join(dir, 'c'), SNAKEPIT_DAEMON_NODE_FLAGS: `--max-semi-space-size=1 --cpu-prof --cpu-prof-dir=${out} --cpu-prof-interval=${interval}` };
const up = spawnSync(process.execPath, [CLI, 'cluster', 'up', '--agents', '1', '--workers', '1', '--home', home], { env, encoding: 'utf8' });
if (up.status !== 0) {
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`cluster up failed: ${up.stderr}`);
}
const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8'));
const pids = { router: info.pid, agent: info.agents[0].pid };
const client = connect({ home });
let window;
const before = {};
const after = {};
try {
  for (let i = 0; i < 1000; i++) await client.execute('add', { a: i, b: 1 }); // warm-up
  for (const [k, pid] of Object.entries(pids)) before[k] = { cpu: cpuUs(pid), io: io(pid) };
  // The profile's clock is CLOCK_MONOTONIC in µs, the clock of process.hrtime.
  const from = Number(process.hrtime.bigint() / 1000n);
  let next = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < calls) {
        next++;
        await client.execute('add', { a: 1, b: 1 });
      }
    }),
  );
  window = [from, Number(process.hrtime.bigint() / 1000n)];
  for (const [k, pid] of Object.entries(pids)) after[k] = { cpu: cpuUs(pid), io: io(pid) };
} finally {
  client.close();
  spawnSync(process.execPath, [CLI, 'cluster', 'down', '--home', home], { env });
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${calls} calls, ${conc} in flight, in ${((window[1] - window[0]) / 1e6).toFixed(2)} s; profiles in ${out}`);
for (const [k, pid] of Object.entries(pids)) {
  const per = (x) => (x / calls).toFixed(2);
  console.log(`\n== ${k} (pid ${pid}): ${per(after[k].cpu - before[k].cpu)} µs CPU per call (profiler on), ${per(after[k].io.syscw - before[k].io.syscw)} writes and ${per(after[k].io.syscr - before[k].io.syscr)} reads per call`);
  const file = readdirSync(out).find((f) => f.includes(`.${pid}.`) && f.endsWith('.cpuprofile'));
  if (file) console.log(summarise(JSON.parse(readFileSync(join(out, file), 'utf8')), { calls, from: window[0], to: window[1], top }));
}
