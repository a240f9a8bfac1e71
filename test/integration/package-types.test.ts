// The packed tarball as a consumer gets it: installed into a fresh project outside this checkout
// (so no typeRoots, node_modules or @types of ours are in reach), then a typed consumer of the
// public API is type-checked with both TypeScript majors (5.x: `typescript`; 7.x:
// `typescript-latest`), strict, module/moduleResolution nodenext, from an ES module and from a
// CommonJS file, and run. The public declarations must stand alone: no Node globals (Buffer,
// NodeJS.*) and no dependency's types (grpc-js's pull in @types/node), because TypeScript 7 no
// longer includes @types/* unless asked, and a strict layout (pnpm) never hoists the @types/node
// that protobufjs brings.
//
// Install: `npm ci --offline` from the npm cache alone, with a lockfile made from this checkout's
// (its non-dev entries, which pin what snakepit's dependencies resolve to). A plain
// `npm install --offline ./snakepit.tgz` fails here with ENOTCACHED: without a lockfile npm needs
// each package's registry document, which `npm ci` never stores; our lockfile has no `resolved`
// URLs either, so they are filled in with the registry's tarball URLs, which `npm ci` did fetch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT, tempDir } from '../helpers/env.js';

const TSC = { '5': join(ROOT, 'node_modules/typescript/bin/tsc'), '7': join(ROOT, 'node_modules/typescript-latest/bin/tsc') } as const;
const REGISTRY = (process.env.npm_config_registry ?? 'https://registry.npmjs.org/').replace(/\/?$/, '/');

// Uses every public entry point in a typed way; a wrong or missing declaration fails to compile.
const CONSUMER = `
import { connect, startAgent, SnakepitError, isSnakepitError, ERROR_CODES, DEFAULTS, VERSION } from 'snakepit';
import type { AbortSignalLike, AgentClient, AgentEvent, AgentOptions, AgentStats, CallOptions, ConnectOptions, EmbeddedAgent, ErrorCode, ErrorInfo, PoolSettings, ToolInfo, WatchUpdate } from 'snakepit';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
export const codeIsTheUnion: Equals<SnakepitError['code'], ErrorCode> = true;
export const unionIsTheCatalog: Equals<ErrorCode, (typeof ERROR_CODES)[number]> = true;
// @ts-expect-error -- not a code of the catalog: compiles only while \`code\` is the union, not string.
export const notACode: SnakepitError['code'] = 'NOT_A_CODE';
export const toolCode: string | undefined = new SnakepitError('TOOL_ERROR', 'x').toolCode;

const settings: PoolSettings = { workers: 2, affinity: 'strict-queue', env: { A: '1' }, maxQueue: 10 };
const options: AgentOptions = {
  ...settings,
  tools: './tools.py',
  pools: { ml: { workers: 1, workerTransport: 'pipe' } },
  logger: { log: (level, source, message) => void [level, source, message] },
  onEvent: (e: AgentEvent) => {
    if (e.type === 'worker.ready') void (e.startupMs satisfies number);
  },
};

export async function embedded(): Promise<number> {
  const agent: EmbeddedAgent = await startAgent(options);
  const signal: AbortSignalLike = { aborted: false, addEventListener: () => {}, removeEventListener: () => {} };
  const call: CallOptions = { session: 's1', timeoutMs: 5_000, idempotent: true, signal, pool: 'ml', require: { gpu: 'a100' } };
  const sum: number = await agent.execute<number>('add', { a: 1, b: 2 }, call);
  for await (const t of agent.stream<{ token: string }>('tokens', { text: 'a b' }, call)) void t.token.toUpperCase();
  const stats: AgentStats = await agent.stats();
  const tools: ToolInfo[] = await agent.tools({ pool: 'ml' });
  for await (const u of agent.watch({ intervalMs: 100, calls: true })) {
    const seen: WatchUpdate = u;
    if (seen.type === 'stats') void seen.stats.workers.map((w) => w.pid);
    break;
  }
  const pids: number[] = agent.workerPids();
  await agent.stop();
  return sum + stats.queue.depth + tools.length + pids.length + stats.latencyMs.p99 + (stats.agents?.[0]?.inFlight ?? 0);
}

/** A call to a home where no agent runs: AGENT_UNAVAILABLE, as a typed SnakepitError. */
export async function remote(home: string): Promise<{ code: ErrorCode; info: ErrorInfo } | null> {
  const opts: ConnectOptions = { home };
  const client: AgentClient = connect(opts);
  try {
    await client.execute('add', { a: 1, b: 2 });
    return null;
  } catch (err) {
    if (!isSnakepitError(err)) throw err;
    switch (err.code) {
      case 'AGENT_UNAVAILABLE':
      case 'TOOL_ERROR':
        return { code: err.code, info: err.toJSON() };
      default:
        return { code: err.code, info: err.toJSON() };
    }
  } finally {
    client.close();
  }
}

export const facts = { version: VERSION satisfies string, workers: DEFAULTS.workers satisfies number, codes: ERROR_CODES.length };
`;

const ESM = `${CONSUMER}
const home = process.argv[2];
if (home) console.log(JSON.stringify({ module: 'esm', ...(await remote(home)), version: facts.version }));
declare const process: { argv: string[] };
declare const console: { log(line: string): void };
`;

// With the DOM lib or @types/node: their AbortSignal is a call's signal.
const SIGNAL = `
import type { CallOptions } from 'snakepit';
export const withSignal: CallOptions = { signal: new AbortController().signal };
`;

// CommonJS: TypeScript 5.8+ (nodenext) lets a CommonJS file require this ES module, as Node ≥ 20.19 does.
const CJS = `
import snakepit = require('snakepit');
import type { ErrorCode } from 'snakepit';
declare const process: { argv: string[] };
declare const console: { log(line: string): void };
const code: ErrorCode = 'AGENT_UNAVAILABLE';
export async function main(home: string): Promise<void> {
  const client = snakepit.connect({ home });
  const err = await client.execute<number>('add', { a: 1 }).then(() => null, (e: unknown) => e);
  client.close();
  console.log(JSON.stringify({ module: 'cjs', code: snakepit.isSnakepitError(err) && err.code === code ? err.code : String(err), names: Object.keys(snakepit).sort() }));
}
if (process.argv[2]) void main(process.argv[2]);
`;

interface Lock {
  packages: Record<string, { version?: string; resolved?: string; dev?: boolean; link?: boolean; name?: string; dependencies?: Record<string, string> } & Record<string, unknown>>;
}

/** package.json and package-lock.json of a consumer of `tgz` (a file name in the consumer's dir). */
function consumerProject(tgz: string): { manifest: object; lock: object } {
  const repo = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;
  const root = repo.packages['']!;
  const packages: Lock['packages'] = {
    '': { name: 'consumer', dependencies: { snakepit: `file:${tgz}` } },
    'node_modules/snakepit': { version: root.version, resolved: `file:${tgz}`, dependencies: root.dependencies, bin: root.bin, engines: root.engines, license: root.license },
  };
  for (const [path, entry] of Object.entries(repo.packages)) {
    if (path === '' || entry.dev || entry.link) continue;
    const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    packages[path] = { ...entry, resolved: entry.resolved ?? `${REGISTRY}${name}/-/${basename(name)}-${entry.version}.tgz` };
  }
  return {
    manifest: { name: 'consumer', private: true, type: 'module', dependencies: { snakepit: `file:${tgz}` } },
    lock: { name: 'consumer', lockfileVersion: 3, requires: true, packages },
  };
}

const dir = tempDir('sp-types-');
const project = join(dir.path, 'consumer');
const noHome = join(dir.path, 'no-agent-here');

function tsc(major: keyof typeof TSC, config: string): { code: number | null; out: string; files: string[] } {
  const r = spawnSync(process.execPath, [TSC[major], '-p', config, '--listFiles'], { cwd: project, encoding: 'utf8' });
  const lines = `${r.stdout}${r.stderr}`.split('\n');
  return { code: r.status, out: lines.filter((l) => !l.startsWith('/')).join('\n').trim(), files: lines.filter((l) => l.startsWith('/')) };
}

function writeConfig(name: string, extra: Record<string, unknown>, files = ['esm.ts', 'cjs.cts']): string {
  const compilerOptions = { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', skipLibCheck: false, noEmit: true, ...extra };
  writeFileSync(join(project, name), JSON.stringify({ compilerOptions, files }));
  return name;
}

beforeAll(() => {
  mkdirSync(project);
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', project], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as Array<{ filename: string }>;
  const tgz = `./${packed[0]!.filename}`;
  const { manifest, lock } = consumerProject(tgz);
  writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lock, null, 2));
  execFileSync('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: project, stdio: ['ignore', 'ignore', 'pipe'] });
  writeFileSync(join(project, 'esm.ts'), ESM);
  writeFileSync(join(project, 'cjs.cts'), CJS);
  writeFileSync(join(project, 'signal.ts'), SIGNAL);
}, 180_000);
afterAll(() => dir.cleanup());

describe('the installed tarball, type-checked as a consumer without @types/node', () => {
  it('compiles with TypeScript 5 and 7 (types: []), and its types reach nothing but its own declarations', () => {
    const config = writeConfig('tsconfig.none.json', { types: [], lib: ['es2022'] });
    for (const major of ['5', '7'] as const) {
      const r = tsc(major, config);
      expect(r.out, `tsc ${major}`).toBe('');
      expect(r.code, `tsc ${major}`).toBe(0);
      const ours = r.files.filter((f) => f.startsWith(`${project}/`)).map((f) => f.slice(project.length + 1));
      // No dependency's declarations, so no @types/node: the consumer needs neither.
      expect(ours.filter((f) => !/^node_modules\/snakepit\/dist\/.*\.d\.ts$/.test(f) && f !== 'esm.ts' && f !== 'cjs.cts'), `tsc ${major}`).toEqual([]);
      expect(ours, `tsc ${major}`).toContain('node_modules/snakepit/dist/index.d.ts');
      // Outside the project, only TypeScript's own lib files (the DOM's not among them).
      expect(r.files.filter((f) => !f.startsWith(`${project}/`) && !/\/lib\.es[\w.]*\.d\.ts$|\/lib\.decorators[\w.]*\.d\.ts$/.test(f)), `tsc ${major}`).toEqual([]);
    }
  }, 120_000);

  it('compiles with the default types, with @types/node installed (a dependency of protobufjs) and without it', () => {
    // TypeScript 5 includes every installed @types package by default (here Node's, so our
    // AbortSignalLike must accept its AbortSignal); TypeScript 7 none.
    const config = writeConfig('tsconfig.default.json', {}, ['esm.ts', 'cjs.cts', 'signal.ts']);
    for (const major of ['5', '7'] as const) {
      const r = tsc(major, config);
      expect(r.out, `tsc ${major}`).toBe('');
      expect(r.files.some((f) => f.includes('/@types/node/')), `tsc ${major}`).toBe(major === '5');
    }
    rmSync(join(project, 'node_modules/@types/node'), { recursive: true });
    for (const major of ['5', '7'] as const) {
      const r = tsc(major, config);
      expect(r.out, `tsc ${major} without @types/node`).toBe('');
      expect(r.code).toBe(0);
    }
    // Four compiler runs: ~15 s here alone, more beside the rest of the suite on 2 cores.
  }, 120_000);

  it('the compiled consumer runs as an ES module and as CommonJS, and the bin answers', () => {
    const config = writeConfig('tsconfig.emit.json', { types: [], noEmit: false, outDir: 'out' });
    const built = tsc('7', config);
    expect(built.out).toBe('');
    const esm = JSON.parse(execFileSync(process.execPath, ['out/esm.js', noHome], { cwd: project, encoding: 'utf8' })) as { code: string; info: { code: string; message: string }; version: string };
    expect(esm).toMatchObject({ module: 'esm', code: 'AGENT_UNAVAILABLE', info: { code: 'AGENT_UNAVAILABLE' } });
    expect(esm.info.message).toContain(noHome);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(esm.version).toBe(version);
    const cjs = JSON.parse(execFileSync(process.execPath, ['out/cjs.cjs', noHome], { cwd: project, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { code: string; names: string[] };
    expect(cjs.code).toBe('AGENT_UNAVAILABLE');
    expect(cjs.names).toEqual(expect.arrayContaining(['connect', 'startAgent', 'SnakepitError', 'isSnakepitError', 'ERROR_CODES', 'DEFAULTS', 'VERSION']));
    const bin = execFileSync(join(project, 'node_modules/.bin/snakepit'), ['--version'], { cwd: project, encoding: 'utf8' });
    expect(bin.trim()).toContain(version);
  });
});
