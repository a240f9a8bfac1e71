#!/usr/bin/env node
// Measures both worker transports through the public API (startAgent, 1 worker): worker
// start-to-ready, and tiny-call round trips per second with 1 and 8 calls in flight. Reports
// numbers only; nothing here is asserted. Needs `npm run build` first.
//
//   node scripts/bench-worker-transports.mjs [--python EXE] [--grpc-python EXE] [--runs N] [--seconds S]
import { startAgent } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const grpcPython = opt('--grpc-python', '/usr/bin/python3');
const pipePython = opt('--python', grpcPython);
const runs = Number(opt('--runs', '10'));
const seconds = Number(opt('--seconds', '3'));

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function startup(transport, python) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    let ms = 0;
    const agent = await startAgent({ python, workerTransport: transport, workers: 1, onEvent: (e) => e.type === 'worker.ready' && (ms = e.startupMs) });
    times.push(ms);
    await agent.stop();
  }
  return times;
}

async function throughput(agent, inFlight) {
  const until = performance.now() + seconds * 1000;
  let done = 0;
  const lane = async () => {
    while (performance.now() < until) {
      await agent.execute('add', { a: 1, b: 2 });
      done++;
    }
  };
  const t = performance.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  return done / ((performance.now() - t) / 1000);
}

async function rates(transport, python, threads) {
  const agent = await startAgent({ python, workerTransport: transport, workers: 1, threads });
  try {
    await throughput(agent, 8); // warm-up
    const out = {};
    for (const n of [1, 8]) out[n] = await throughput(agent, n);
    return out;
  } finally {
    await agent.stop();
  }
}

console.log(`node ${process.version}; pipe on ${pipePython}, grpc on ${grpcPython}; ${runs} starts, ${seconds} s per rate`);
for (const [transport, python] of [['pipe', pipePython], ['grpc', grpcPython]]) {
  const times = await startup(transport, python);
  console.log(`${transport.padEnd(4)} start -> ready: median ${median(times)} ms (min ${Math.min(...times)}, max ${Math.max(...times)})`);
  for (const threads of [1, 8]) {
    const r = await rates(transport, python, threads);
    console.log(`${transport.padEnd(4)} tiny calls, 1 worker, ${threads} thread(s): 1 in flight ${r[1].toFixed(0)}/s (${(1e6 / r[1]).toFixed(0)} us/call), 8 in flight ${r[8].toFixed(0)}/s`);
  }
}
