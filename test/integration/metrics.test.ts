// `snakepit up --metrics-port P` against a real detached daemon: Prometheus text on /metrics with
// call counts (errors by code), latency histograms, workers, restarts and RSS; a busy port fails
// `up` naming it; `down` closes the port.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { PYTHON, freePort, killPids, pidAlive, runCli, tempDir, waitFor } from '../helpers/env.js';

const dir = tempDir('sp-metrics-');
const home = join(dir.path, 'home');
const env = { SNAKEPIT_PYTHON: PYTHON, SNAKEPIT_CONFIG_DIR: join(dir.path, 'config') };
const cli = (...args: string[]) => runCli([...args, '--home', home], { env });
const started: number[] = [];
let port = 0;
let url = '';

interface Sample {
  name: string;
  labels: { [k: string]: string };
  value: number;
}

/** Parses the Prometheus text format (samples only). */
function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    expect(m, line).not.toBeNull();
    const labels: { [k: string]: string } = {};
    for (const l of (m![2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m![1]!, labels, value: Number(m![3]) });
  }
  return out;
}

function find(samples: Sample[], name: string, labels: { [k: string]: string } = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

async function scrape(): Promise<Sample[]> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

function portOpen(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(p, '127.0.0.1');
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
}

beforeAll(async () => {
  port = await freePort();
  const up = await cli('up', '--workers', '2', '--metrics-port', String(port), '--json');
  expect(up.code, up.stderr).toBe(0);
  url = `http://127.0.0.1:${port}/metrics`;
  expect(JSON.parse(up.stdout)).toMatchObject({ ok: true, metrics: url });
  const info = JSON.parse(readFileSync(join(home, 'agent.json'), 'utf8')) as { pid: number; workerPids: number[] };
  started.push(info.pid, ...info.workerPids);
});

afterAll(async () => {
  if (existsSync(join(home, 'agent.json'))) await cli('down');
  killPids(started.filter(pidAlive));
  dir.cleanup();
});

describe('snakepit up --metrics-port', () => {
  it('serves call counts by code, latency histograms, queue, workers and RSS', async () => {
    for (let i = 0; i < 3; i++) expect((await cli('exec', 'add', `a=${i}`, 'b=1')).code).toBe(0);
    expect((await cli('exec', 'fail')).code).toBe(1);
    const s = await scrape();
    expect(find(s, 'snakepit_calls_total', { pool: 'default', tool: 'add', code: 'OK' })[0]?.value).toBe(3);
    expect(find(s, 'snakepit_calls_total', { pool: 'default', tool: 'fail', code: 'PYTHON_EXCEPTION' })[0]?.value).toBe(1);
    const buckets = find(s, 'snakepit_call_duration_seconds_bucket', { pool: 'default', tool: 'add' });
    expect(buckets.length).toBeGreaterThan(5);
    expect(buckets.find((b) => b.labels.le === '+Inf')?.value).toBe(3);
    expect(find(s, 'snakepit_call_duration_seconds_count', { tool: 'add' })[0]?.value).toBe(3);
    expect(find(s, 'snakepit_call_duration_seconds_count', { tool: 'fail' })[0]?.value).toBe(1);
    expect(find(s, 'snakepit_queue_depth', { pool: 'default' })[0]?.value).toBe(0);
    expect(find(s, 'snakepit_calls_in_flight')[0]?.value).toBe(0);
    expect(find(s, 'snakepit_workers', { pool: 'default', state: 'ready' })[0]?.value).toBe(2);
    const rss = find(s, 'snakepit_worker_rss_bytes', { pool: 'default' });
    expect(rss.map((r) => r.labels.worker).sort()).toEqual(['default-0', 'default-1']);
    for (const r of rss) expect(r.value).toBeGreaterThan(1024 * 1024);
    expect(find(s, 'snakepit_worker_restarts_total').map((r) => r.value)).toEqual([0, 0]);
    expect(find(s, 'snakepit_worker_recycles_total').map((r) => r.value)).toEqual([0, 0]);
    expect(find(s, 'snakepit_agent_process_resident_memory_bytes')[0]?.value).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });

  it('passes promtool check metrics (Debian\'s prometheus package; .ci/run installs it)', async () => {
    const text = await (await fetch(url)).text();
    const { spawnSync } = await import('node:child_process');
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.error, 'promtool is needed for this test: apt-get install prometheus').toBeUndefined();
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe('');
    expect(lint.status).toBe(0);
  });

  it('counts a crashed worker as a restart of its slot', async () => {
    const stats = JSON.parse((await cli('stats', '--json')).stdout) as { workers: Array<{ id: string; pid: number }> };
    const victim = stats.workers[0]!;
    process.kill(victim.pid, 'SIGKILL');
    await waitFor(async () => find(await scrape(), 'snakepit_worker_restarts_total', { worker: victim.id })[0]?.value === 1, 15_000, 100);
    await waitFor(async () => find(await scrape(), 'snakepit_workers', { state: 'ready' })[0]?.value === 2, 15_000, 100);
    const after = JSON.parse((await cli('stats', '--json')).stdout) as { workers: Array<{ pid: number }> };
    started.push(...after.workers.map((w) => w.pid));
  });

  it('a busy port fails up with CONFIG_INVALID naming it, and starts nothing', async () => {
    const other = join(dir.path, 'other');
    const r = await runCli(['up', '--workers', '1', '--metrics-port', String(port), '--home', other], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`CONFIG_INVALID.*127\\.0\\.0\\.1:${port}.*in use`));
    expect(existsSync(join(other, 'agent.json'))).toBe(false);
    const bad = await runCli(['up', '--metrics-port', '99999', '--home', other], { env });
    expect(bad.code).toBe(2);
  });

  it('down closes the metrics port', async () => {
    expect(await portOpen(port)).toBe(true);
    expect((await cli('down')).code).toBe(0);
    expect(await portOpen(port)).toBe(false);
  });
});
