#!/usr/bin/env node
// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by file, and time by
// stage of an Agent API call's path (each sample goes to the innermost frame of its stack that
// names a stage), optionally only inside a time window (µs of the profile's clock, which is
// process.hrtime's) and per call.
//
//   node scripts/cpuprofile-summary.mjs FILE [--calls N] [--from US --to US] [--top K]

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const short = (url) => url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
const tail = (url) => short(url).split('/').slice(-2).join('/');

/** Stages of the call path, tested on a frame; the innermost frame that matches one decides. */
const STAGES = [
  ['GC', (f) => f.functionName === '(garbage collector)'],
  ['socket writes (syscall and stream machinery)', (f) => ['writeBuffer', 'writev', 'writeGeneric', 'writeUtf8String'].includes(f.functionName) || f.url.includes('streams/writable') || (f.url === 'node:net' && f.functionName.startsWith('_write'))],
  ['codec: encode ClientBatch (calls out)', (f) => f.functionName === 'encodeClientBatch'],
  ['codec: decode ServerBatch (replies in)', (f) => f.functionName === 'decodeServerBatch'],
  ['codec: encode a message (replies out, unless under encodeClientBatch)', (f) => f.functionName === 'encodeFramed'],
  ['codec: decode a message (calls in, unless under decodeServerBatch)', (f) => f.functionName === 'decodeMessage'],
  ['frame reader', (f) => tail(f.url) === 'api/grpc-frame.js'],
  ['placement and the router view', (f) => tail(f.url) === 'cluster/placement.js' || (tail(f.url) === 'cluster/router.js' && (f.functionName === 'view' || f.functionName === 'stateOf'))],
  ['breaker, detector, retry budget', (f) => ['cluster/breaker.js', 'cluster/failure-detector.js', 'cluster/retry.js'].includes(tail(f.url))],
  ['Exchange client (calls to an agent)', (f) => tail(f.url) === 'api/h2-client.js' || tail(f.url) === 'api/remote-agent.js'],
  ['router: route, attempt, finish', (f) => tail(f.url) === 'cluster/router.js'],
  ['Exchange session and local lane (the served side)', (f) => tail(f.url) === 'api/exchange-session.js' || tail(f.url) === 'api/local-lane.js'],
  ['agent: queue, pool, worker handles', (f) => /dist\/(agent|worker|protocol)\//.test(f.url)],
  ['socket reads (stream machinery)', (f) => f.url.includes('streams/readable') || tail(f.url) === 'internal/stream_base_commons' || f.url === 'node:net'],
  ['grpc-js', (f) => f.url.includes('@grpc')],
  ['timers, ticks, microtasks', (f) => ['processTicksAndRejections', 'processImmediate', 'listOnTimeout', 'processTimers', '(program)', 'runMicrotasks'].includes(f.functionName)],
];

export function summarise(profile, { calls = 0, from = -Infinity, to = Infinity, top = 25 } = {}) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  let t = profile.startTime;
  const times = profile.timeDeltas.map((d) => (t += d));
  const fns = new Map();
  const files = new Map();
  const stages = new Map();
  const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
  let total = 0;
  profile.samples.forEach((id, i) => {
    if (times[i] < from || times[i] > to) return;
    const f = byId.get(id).callFrame;
    if (f.functionName === '(idle)') return;
    const dt = i + 1 < times.length ? times[i + 1] - times[i] : 0;
    total += dt;
    add(fns, `${f.functionName || '(anonymous)'} ${f.url ? `${tail(f.url)}:${f.lineNumber + 1}` : ''}`.trim(), dt);
    const u = short(f.url);
    add(files, !f.url ? `(${f.functionName})` : u.startsWith('node_modules/') ? u.split('/').slice(0, 3).join('/') : u.startsWith('node:') ? 'node: internals' : u, dt);
    let stage = 'other';
    for (let n = id; n !== undefined; n = parent.get(n)) {
      const frame = byId.get(n).callFrame;
      const hit = STAGES.find(([, test]) => test(frame));
      if (!hit) continue;
      stage = hit[0];
      // The codec's generic entry points serve both directions: their caller says which.
      if (frame.functionName === 'encodeFramed' || frame.functionName === 'decodeMessage') {
        for (let a = parent.get(n); a !== undefined; a = parent.get(a)) {
          const fn = byId.get(a).callFrame.functionName;
          if (fn === 'encodeClientBatch') stage = STAGES[2][0];
          else if (fn === 'decodeServerBatch') stage = STAGES[3][0];
          else continue;
          break;
        }
      }
      break;
    }
    add(stages, stage, dt);
  });
  const lines = [`non-idle ${(total / 1e3).toFixed(0)} ms${calls ? `, ${(total / calls).toFixed(1)} µs per call over ${calls} calls` : ''}`];
  const table = (title, m, n) => {
    lines.push('', title);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) lines.push(`${((100 * v) / total).toFixed(1).padStart(5)} %${calls ? `  ${(v / calls).toFixed(2).padStart(6)} µs/call` : ''}  ${k}`);
  };
  table('by stage (inclusive)', stages, STAGES.length + 1);
  table('by function (self)', fns, top);
  table('by file (self)', files, 15);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  if (!args[0]) throw new Error('usage: node scripts/cpuprofile-summary.mjs FILE [--calls N] [--from US --to US] [--top K]');
  const profile = JSON.parse(readFileSync(args[0], 'utf8'));
  console.log(summarise(profile, { calls: Number(opt('--calls', '0')), from: Number(opt('--from', '-Infinity')), to: Number(opt('--to', 'Infinity')), top: Number(opt('--top', '30')) }));
}
