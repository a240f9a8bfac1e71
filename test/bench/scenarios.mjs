// The benchmark scenarios. Each returns { rows, targets } where a target is
// { name, target, actual, met }. References (the floor, the naive way, direct gRPC) are measured
// alternately with Snakepit in the same run; medians of `ctx.rounds` rounds.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { connect, startAgent } from '../../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const ROOT = join(here, '..', '..');
const CLI = join(ROOT, 'bin', 'snakepit.js');
/** One interpreter for every side, so only the transport differs (Debian's has grpcio). */
const PY = process.env.SNAKEPIT_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const MiB = 1024 * 1024;

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : 0;
};
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const target = (name, actual, limit, op, unit = '') => ({
  name,
  target: `${op} ${limit}${unit}`,
  actual: `${round(actual, 2)}${unit}`,
  met: op === '>=' ? actual >= limit : actual <= limit,
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ── drivers ──────────────────────────────────────────────────────────────

/** Runs `n` calls with `conc` in flight through `call(i)`; returns calls/s and p50 latency (µs). */
async function drive(call, n, conc) {
  const lat = new Float64Array(n);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) {
        const i = next++;
        const s = performance.now();
        await call(i);
        lat[i] = performance.now() - s;
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { perSec: n / secs, p50us: median(lat) * 1000 };
}

/** The floor: persistent children answering JSON lines (what python-shell's JSON mode does). */
function rawJsonLines(workers) {
  const children = Array.from({ length: workers }, () => spawn(PY, [join(here, 'raw_jsonlines.py')], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const waiting = new Map();
  let id = 0;
  for (const c of children) {
    let buf = '';
    c.stdout.setEncoding('utf8');
    c.stdout.on('data', (d) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        waiting.get(msg.id)(msg.result);
        waiting.delete(msg.id);
      }
    });
  }
  return {
    call: (i) =>
      new Promise((resolve) => {
        const my = id++;
        waiting.set(my, resolve);
        children[my % workers].stdin.write(`${JSON.stringify({ id: my, tool: 'add', args: { a: i, b: 1 } })}\n`);
      }),
    close: () => children.forEach((c) => c.kill('SIGKILL')),
  };
}

/** The floor for bytes: a child echoing length-prefixed messages over the same kind of pipes. */
function rawEcho() {
  const child = spawn(PY, [join(here, 'raw_echo.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const queue = [];
  let chunks = [];
  let have = 0;
  child.stdout.on('data', (d) => {
    chunks.push(d);
    have += d.length;
    for (;;) {
      if (have < 4) return;
      const head = Buffer.concat(chunks);
      const n = head.readUInt32BE(0);
      if (have < 4 + n) return;
      const body = head.subarray(4, 4 + n);
      chunks = [head.subarray(4 + n)];
      have -= 4 + n;
      queue.shift()(body);
    }
  });
  return {
    call: (payload) =>
      new Promise((resolve) => {
        queue.push(resolve);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(payload.length);
        child.stdin.write(len);
        child.stdin.write(payload);
      }),
    close: () => child.kill('SIGKILL'),
  };
}

/** Direct gRPC: a grpc-js client calling a grpcio server in one Python worker, no agent. */
async function directGrpc() {
  const dir = mkdtempSync(join(tmpdir(), 'spb-'));
  const address = `unix:${join(dir, 'g.sock')}`;
  const child = spawn(PY, [join(here, 'grpc_worker.py'), address], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`grpc_worker.py exited with ${code} (needs grpcio: apt-get install python3-grpcio)`)));
  });
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * MiB, 'grpc.max_send_message_length': 64 * MiB });
  const id = (b) => b;
  const unary = (method, body) =>
    new Promise((resolve, reject) => client.makeUnaryRequest(`/bench.Worker/${method}`, id, id, body, (err, res) => (err ? reject(err) : resolve(res))));
  return {
    call: (i) => unary('Call', Buffer.from(JSON.stringify({ a: i, b: 1 }))).then((b) => JSON.parse(b.toString())),
    echo: (payload) => unary('Echo', payload),
    close: () => {
      client.close();
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A daemon started with the real CLI in a private home; `connect()` client to it. */
async function daemon(workers) {
  const dir = mkdtempSync(join(tmpdir(), 'spb-'));
  const home = join(dir, 'h');
  const env = { ...process.env, SNAKEPIT_CONFIG_DIR: join(dir, 'c') };
  const up = spawnSync(process.execPath, [CLI, 'up', '--home', home, '--workers', String(workers), '--python', PY, '--json'], { env, encoding: 'utf8' });
  if (up.status !== 0) throw new Error(`snakepit up failed: ${up.stderr}`);
  const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8'));
  const client = connect({ home });
  return {
    home,
    env,
    pid: info.pid,
    workerPids: info.workerPids,
    client,
    close: () => {
      client.close();
      spawnSync(process.execPath, [CLI, 'down', '--home', home], { env });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

function timeCommand(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    execFile(cmd, args, { env }, (err) => (err ? reject(err) : resolve(performance.now() - t0)));
  });
}

// ── scenarios ────────────────────────────────────────────────────────────

const tiny = {
  name: 'tiny',
  title: 'Tiny calls (add): embedded Snakepit vs a raw JSON-lines child (the floor)',
  async run(ctx) {
    const n = ctx.quick ? 4000 : 20000;
    const rows = [];
    const targets = [];
    for (const workers of [1, 2]) {
      const agent = await startAgent({ python: PY, workers });
      try {
        for (const conc of [1, 8, 64]) {
          const calls = conc === 1 ? n / 4 : n;
          const raw = [];
          const ours = [];
          await drive((i) => agent.execute('add', { a: i, b: 1 }), 500, conc); // warm-up
          for (let r = 0; r < ctx.rounds; r++) {
            const floor = rawJsonLines(workers);
            await drive((i) => floor.call(i), 200, conc);
            raw.push(await drive((i) => floor.call(i), calls, conc));
            floor.close();
            ours.push(await drive((i) => agent.execute('add', { a: i, b: 1 }), calls, conc));
          }
          const rawPerSec = median(raw.map((x) => x.perSec));
          const oursPerSec = median(ours.map((x) => x.perSec));
          const rawP50 = median(raw.map((x) => x.p50us));
          const oursP50 = median(ours.map((x) => x.p50us));
          rows.push({ workers, concurrency: conc, 'raw calls/s': Math.round(rawPerSec), 'snakepit calls/s': Math.round(oursPerSec), ratio: round(oursPerSec / rawPerSec, 2), 'raw p50 µs': Math.round(rawP50), 'snakepit p50 µs': Math.round(oursP50), 'p50 ratio': round(oursP50 / rawP50, 2) });
          targets.push(target(`embedded throughput / raw (${workers}w, c${conc})`, oursPerSec / rawPerSec, 0.8, '>='));
          targets.push(target(`embedded p50 / raw p50 (${workers}w, c${conc})`, oursP50 / rawP50, 1.5, '<='));
        }
      } finally {
        await agent.stop();
      }
    }
    return { rows, targets };
  },
};

const spawnPerCall = {
  name: 'spawn',
  title: 'The naive way: spawning python3 per call, vs one embedded call',
  async run(ctx) {
    const n = ctx.quick ? 15 : 50;
    const per = [];
    for (let i = 0; i < n; i++) per.push(await timeCommand(PY, ['-c', 'import json; print(json.dumps(1 + 2))']));
    const agent = await startAgent({ python: PY, workers: 1 });
    const ours = await drive((i) => agent.execute('add', { a: i, b: 1 }), 2000, 1);
    await agent.stop();
    const spawnMs = median(per);
    return { rows: [{ 'spawn per call ms': round(spawnMs, 1), 'snakepit call µs': Math.round(ours.p50us), speedup: `${Math.round((spawnMs * 1000) / ours.p50us)}×` }], targets: [] };
  },
};

const viaGrpc = {
  name: 'daemon',
  title: 'Through the daemon (connect() over the unix socket) vs direct gRPC to a grpcio worker',
  async run(ctx) {
    const n = ctx.quick ? 3000 : 15000;
    const rows = [];
    const targets = [];
    const d = await daemon(1);
    const g = await directGrpc();
    try {
      for (const conc of [1, 8, 64]) {
        const calls = conc === 1 ? n / 3 : n;
        const direct = [];
        const ours = [];
        await drive((i) => d.client.execute('add', { a: i, b: 1 }), 300, conc);
        await drive((i) => g.call(i), 300, conc);
        for (let r = 0; r < ctx.rounds; r++) {
          direct.push(await drive((i) => g.call(i), calls, conc));
          ours.push(await drive((i) => d.client.execute('add', { a: i, b: 1 }), calls, conc));
        }
        const dps = median(direct.map((x) => x.perSec));
        const ops = median(ours.map((x) => x.perSec));
        rows.push({ concurrency: conc, 'direct gRPC calls/s': Math.round(dps), 'snakepit daemon calls/s': Math.round(ops), ratio: round(ops / dps, 2), 'direct p50 µs': Math.round(median(direct.map((x) => x.p50us))), 'daemon p50 µs': Math.round(median(ours.map((x) => x.p50us))) });
        if (conc > 1) targets.push(target(`daemon throughput / direct gRPC (c${conc})`, ops / dps, 5, '>='));
      }
    } finally {
      g.close();
      d.close();
    }
    return { rows, targets };
  },
};

const binary = {
  name: 'binary',
  title: '1 MiB binary round trips: raw byte echo (floor), direct gRPC, Snakepit embedded and daemon',
  async run(ctx) {
    const n = ctx.quick ? 60 : 300;
    const payload = Buffer.alloc(MiB, 7);
    const echo = rawEcho();
    const g = await directGrpc();
    const agent = await startAgent({ python: PY, workers: 1 });
    const d = await daemon(1);
    const res = { raw: [], grpc: [], embedded: [], daemon: [] };
    try {
      for (let r = 0; r < ctx.rounds; r++) {
        res.raw.push(await drive(() => echo.call(payload), n, 4));
        res.grpc.push(await drive(() => g.echo(payload), n, 4));
        res.embedded.push(await drive(() => agent.execute('echo', { value: payload }), n, 4));
        res.daemon.push(await drive(() => d.client.execute('echo', { value: payload }), n, 4));
      }
    } finally {
      echo.close();
      g.close();
      await agent.stop();
      d.close();
    }
    const mibs = (k) => median(res[k].map((x) => x.perSec)) * 2; // request + reply
    const rows = Object.keys(res).map((k) => ({ path: k, 'MiB/s (both ways)': Math.round(mibs(k)), 'round trip p50 ms': round(median(res[k].map((x) => x.p50us)) / 1000, 2) }));
    return {
      rows,
      targets: [
        target('1 MiB embedded bytes/s / direct gRPC', mibs('embedded') / mibs('grpc'), 5, '>='),
        target('1 MiB daemon bytes/s / direct gRPC', mibs('daemon') / mibs('grpc'), 5, '>='),
      ],
    };
  },
};

const coldStart = {
  name: 'start',
  title: 'Pool cold start (startAgent → all workers ready) vs one bare python3 start',
  async run(ctx) {
    const bare = [];
    const pools = { 1: [], 4: [], 16: [] };
    for (let r = 0; r < ctx.rounds; r++) {
      bare.push(await timeCommand(PY, ['-c', 'pass']));
      for (const k of [1, 4, 16]) {
        const t0 = performance.now();
        const a = await startAgent({ python: PY, workers: k });
        pools[k].push(performance.now() - t0);
        await a.stop();
      }
    }
    const b = median(bare);
    const p = (k) => median(pools[k]);
    return {
      rows: [{ 'bare python3 ms': round(b), 'pool of 1 ms': round(p(1)), 'pool of 4 ms': round(p(4)), 'pool of 16 ms': round(p(16)) }],
      targets: [target('pool of 4 ready / one worker ready', p(4) / p(1), 2.5, '<=')],
    };
  },
};

const replace = {
  name: 'replace',
  title: "Time from a worker's SIGKILL to its replacement serving",
  async run(ctx) {
    const starts = [];
    const replaced = [];
    for (let r = 0; r < ctx.rounds + 2; r++) {
      // A fresh agent per kill: this measures one crash, not a crash loop (which backs off).
      let onReady;
      const agent = await startAgent({ python: PY, workers: 1, onEvent: (e) => e.type === 'worker.ready' && onReady?.(e) });
      try {
        const pid = (await agent.execute('whoami')).pid;
        const ready = new Promise((resolve) => (onReady = resolve));
        const t0 = performance.now();
        process.kill(pid, 'SIGKILL');
        starts.push((await ready).startupMs);
        await agent.execute('add', { a: 1, b: 1 });
        replaced.push(performance.now() - t0);
      } finally {
        await agent.stop();
      }
    }
    const start = median(starts);
    const rep = median(replaced);
    return { rows: [{ 'worker start ms': round(start), 'kill → serving ms': round(rep) }], targets: [target('kill → serving − worker start', rep - start, 50, '<=', ' ms')] };
  },
};

const cli = {
  name: 'cli',
  title: '`snakepit exec` against a running agent vs `node -e 0`',
  async run(ctx) {
    const d = await daemon(1);
    const n = ctx.quick ? 10 : 30;
    const nodeMs = [];
    const execMs = [];
    try {
      for (let i = 0; i < n; i++) {
        nodeMs.push(await timeCommand(process.execPath, ['-e', '0']));
        execMs.push(await timeCommand(process.execPath, [CLI, 'exec', 'add', 'a=1', 'b=2', '--home', d.home], d.env));
      }
    } finally {
      d.close();
    }
    const a = median(nodeMs);
    const b = median(execMs);
    return { rows: [{ 'node -e 0 ms': round(a), 'snakepit exec ms': round(b), ratio: round(b / a, 2) }], targets: [target('snakepit exec / node -e 0', b / a, 1.3, '<=')] };
  },
};

const memory = {
  name: 'memory',
  title: 'Resident memory: the agent daemon with 4 workers, and each worker',
  async run() {
    const d = await daemon(4);
    try {
      await drive((i) => d.client.execute('add', { a: i, b: 1 }), 2000, 8);
      await sleep(200);
      const agent = rssMiB(d.pid);
      const workers = d.workerPids.map(rssMiB);
      return {
        rows: [{ 'agent RSS MiB': round(agent), 'worker RSS MiB (median)': round(median(workers)) }],
        targets: [target('agent RSS with 4 workers', agent, 60, '<=', ' MiB')],
      };
    } finally {
      d.close();
    }
  },
};


const large = {
  name: 'large',
  title: 'Large payloads through the daemon: per-MiB time of a round trip, 8 vs 48 MiB (bytes and a JSON string)',
  async run(ctx) {
    const d = await daemon(1);
    const rounds = ctx.quick ? 2 : 4;
    const rows = [];
    const targets = [];
    try {
      for (const kind of ['bytes', 'string']) {
        const perMiB = { 8: [], 48: [] };
        for (let r = 0; r < rounds; r++) {
          for (const mib of [8, 48]) {
            const value = kind === 'bytes' ? Buffer.alloc(mib * MiB, 7) : 'x'.repeat(mib * MiB);
            const t0 = performance.now();
            const back = await d.client.execute('echo', { value }, { timeoutMs: 120_000 });
            const ms = performance.now() - t0;
            if (back.length !== value.length) throw new Error(`echo of ${mib} MiB came back with ${back.length} bytes`);
            perMiB[mib].push(ms / mib);
          }
        }
        const small = median(perMiB[8]);
        const big = median(perMiB[48]);
        rows.push({ value: kind, '8 MiB ms/MiB': round(small, 2), '48 MiB ms/MiB': round(big, 2), ratio: round(big / small, 2), '48 MiB round trip ms': Math.round(big * 48) });
        targets.push(target(`48 MiB / 8 MiB per-MiB time (${kind})`, big / small, 2, '<='));
      }
    } finally {
      d.close();
    }
    return { rows, targets };
  },
};

const slowReader = {
  name: 'slowreader',
  title: 'Agent RSS growth under clients that never read (50 streaming calls, 20 watchers, unread replies), three rounds',
  async run(ctx) {
    const { laneFlood } = await import('./slow-reader.mjs');
    const d = await daemon(2);
    try {
      await drive((i) => d.client.execute('add', { a: i, b: 1 }), 500, 8);
      await sleep(300);
      const before = rssMiB(d.pid);
      const rows = [];
      for (let round = 1; round <= 3; round++) {
        const peer = await laneFlood(d.home, { streams: 50, watchers: 20, calls: ctx.quick ? 20_000 : 100_000 });
        await sleep(ctx.quick ? 3_000 : 6_000);
        const during = rssMiB(d.pid);
        // Others are still served while the slow peers hold their connections.
        const t0 = performance.now();
        await drive((i) => d.client.execute('add', { a: i, b: 1 }), 200, 4);
        const servedMs = performance.now() - t0;
        peer.close();
        await sleep(1_000);
        rows.push({ round, 'RSS before MiB': round === 1 ? round1(before) : rows[round - 2]['RSS after they left MiB'], 'RSS with slow readers MiB': round1(during), 'RSS after they left MiB': round1(rssMiB(d.pid)), 'growth over the start MiB': round1(during - before), '200 calls by others ms': Math.round(servedMs) });
      }
      const peak = Math.max(...rows.map((r) => r['growth over the start MiB']));
      return {
        rows,
        // The peak is V8's old space after a burst of 100k refused calls plus the queued calls'
        // own arguments (7.5 MB); later rounds must not add much to it (bounded, not leaking: the
        // old code grew by ~500 MiB per round and gave nothing back).
        targets: [
          target('agent RSS growth under slow readers', peak, 128, '<=', ' MiB'),
          target('third round of slow readers over the first', rows[2]['growth over the start MiB'] - rows[0]['growth over the start MiB'], 32, '<=', ' MiB'),
        ],
      };
    } finally {
      d.close();
    }
  },
};

/** A local cluster started with the real CLI (`cluster up`); clients of the router and of agent 1 directly. */
async function cluster(agents, workers, env0 = process.env) {
  const dir = mkdtempSync(join(tmpdir(), 'spb-'));
  const home = join(dir, 'h');
  const env = { ...env0, SNAKEPIT_CONFIG_DIR: join(dir, 'c') };
  const up = spawnSync(process.execPath, [CLI, 'cluster', 'up', '--agents', String(agents), '--workers', String(workers), '--home', home, '--python', PY, '--json'], { env, encoding: 'utf8' });
  const info = existsSync(join(home, 'agent.json')) ? JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) : null;
  const close = () => {
    spawnSync(process.execPath, [CLI, 'cluster', 'down', '--home', home], { env });
    rmSync(dir, { recursive: true, force: true });
  };
  if (up.status !== 0 || !info) {
    close();
    throw new Error(`snakepit cluster up failed: ${up.stderr}`);
  }
  const agentHome = info.agents[0].home;
  const router = connect({ home });
  const direct = connect({ home: agentHome });
  return {
    home,
    env,
    routerPid: info.pid,
    agentPid: info.agents[0].pid,
    router,
    direct,
    close: () => {
      router.close();
      direct.close();
      close();
    },
  };
}

/** CPU time a process has used so far (utime + stime of /proc/PID/stat), in seconds. */
function cpuSeconds(pid, ticksPerSec) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSec; // fields 14 and 15
}

function clockTicks() {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return r.status === 0 && n > 0 ? n : 100;
}

/** Wall time of one CLI command (throws with its stderr if it fails). */
function timeCli(args, env) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`snakepit ${args.join(' ')} failed: ${r.stderr}`);
  return performance.now() - t0;
}

/** A row of the router scenario: the reference (the agent directly, its CPU, one agent's start) and the router. */
const row = (measure, unit, agent, routed) => ({ measure, unit, agent: round(agent, 1), router: round(routed, 1), ratio: round(routed / agent, 2), difference: round(routed - agent, 1) });

const router = {
  name: 'router',
  title: 'Through the router (cluster up --agents 1) vs the same agent directly: throughput, p50 hop, CPU per call; cluster start',
  async run(ctx) {
    const rows = [];
    const targets = [];
    const add = (client) => (i) => client.execute('add', { a: i, b: 1 });
    const ticks = clockTicks();
    const c = await cluster(1, 1);
    try {
      // Throughput at c=64 and p50 at c=1, router and direct alternately, medians of the rounds.
      for (const conc of [64, 1]) {
        const calls = conc === 1 ? (ctx.quick ? 2000 : 5000) : ctx.quick ? 8000 : 20000;
        await drive(add(c.direct), 500, conc);
        await drive(add(c.router), 500, conc);
        const direct = [];
        const routed = [];
        for (let r = 0; r < ctx.rounds; r++) {
          direct.push(await drive(add(c.direct), calls, conc));
          routed.push(await drive(add(c.router), calls, conc));
        }
        const dps = median(direct.map((x) => x.perSec));
        const rps = median(routed.map((x) => x.perSec));
        const dp50 = median(direct.map((x) => x.p50us));
        const rp50 = median(routed.map((x) => x.p50us));
        rows.push(row(`add c=${conc}: throughput`, 'calls/s', dps, rps));
        rows.push(row(`add c=${conc}: p50`, 'µs', dp50, rp50));
        if (conc === 64) targets.push(target('router throughput / direct (add, c64)', rps / dps, 0.75, '>='));
        else targets.push(target('router p50 − direct p50 (add, c1)', rp50 - dp50, 150, '<=', ' µs'));
      }
      // CPU per call of the router and of its agent over the same calls (all through the router).
      for (const conc of [64, 1]) {
        const calls = conc === 1 ? (ctx.quick ? 5000 : 20000) : ctx.quick ? 20000 : 60000;
        const r0 = cpuSeconds(c.routerPid, ticks);
        const a0 = cpuSeconds(c.agentPid, ticks);
        const t0 = performance.now();
        await drive(add(c.router), calls, conc);
        const secs = (performance.now() - t0) / 1000;
        const rUs = ((cpuSeconds(c.routerPid, ticks) - r0) * 1e6) / calls;
        const aUs = ((cpuSeconds(c.agentPid, ticks) - a0) * 1e6) / calls;
        rows.push(row(`CPU per call, c=${conc} (${calls} calls via the router, ${round(secs, 1)} s)`, 'CPU µs/call', aUs, rUs));
        if (conc === 64) targets.push(target('router CPU per call / agent CPU per call (c64)', rUs / aUs, 0.6, '<='));
      }
    } finally {
      c.close();
    }
    // Start-up: a cluster of 3 agents × 2 workers vs one agent of 2 workers, both with the CLI,
    // alternately; each round starts in a fresh home and is stopped before the next.
    const one = [];
    const three = [];
    for (let r = 0; r < ctx.rounds; r++) {
      for (const kind of ['agent', 'cluster']) {
        const dir = mkdtempSync(join(tmpdir(), 'spb-'));
        const home = join(dir, 'h');
        const env = { ...process.env, SNAKEPIT_CONFIG_DIR: join(dir, 'c') };
        const isCluster = kind === 'cluster';
        try {
          const ms = timeCli(isCluster ? ['cluster', 'up', '--agents', '3', '--workers', '2', '--home', home, '--python', PY] : ['up', '--workers', '2', '--home', home, '--python', PY], env);
          (isCluster ? three : one).push(ms);
        } finally {
          spawnSync(process.execPath, [CLI, isCluster ? 'cluster' : 'down', ...(isCluster ? ['down'] : []), '--home', home], { env });
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    const oneMs = median(one);
    const threeMs = median(three);
    rows.push(row(`ready: up --workers 2 (agent) vs cluster up --agents 3 --workers 2 (router)`, 'ms', oneMs, threeMs));
    targets.push(target('cluster of 3×2 ready / one agent of 2 ready', threeMs / oneMs, 2, '<='));
    return { rows, targets };
  },
};

const round1 = (x) => round(x, 1);

export const scenarios = [tiny, spawnPerCall, viaGrpc, binary, coldStart, replace, cli, memory, large, slowReader, router];
