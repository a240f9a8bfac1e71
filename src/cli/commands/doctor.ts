// `snakepit doctor`: checks the setup one item at a time (python, home trust and permissions,
// agent reachable, version match, stale files, orphans, containment, where process facts come
// from) and says how to fix each problem. "No agent running" is information, not a failure.
// Exit 1 when any check fails.
import { statSync } from 'node:fs';
import { probeContainment } from '../../agent/containment.js';
import { processSource } from '../../proc.js';
import { lsofRuns } from '../../proc/ps.js';
import { connect } from '../../api/client.js';
import { findOrphans } from '../../daemon/cleanup.js';
import { agentState, homePaths, homeProblem, resolveHome, type AgentState, type HomePaths } from '../../daemon/home.js';
import { EXIT, isSnakepitError } from '../../errors.js';
import { VERSION } from '../../paths.js';
import { findPython } from '../../python/find.js';
import { rememberedPython } from '../../python/remembered.js';
import type { CommandResult } from '../output.js';
import { count } from '../../text.js';
import { cannotCreate } from '../../files.js';
import { TRANSPORT_TEXT } from '../../security/listen.js';

export interface Check {
  name: string;
  ok: boolean;
  /** Passed, but with something to know (e.g. plaintext off loopback): printed as WARN, not a failure. */
  warn?: boolean;
  detail: string;
  fix?: string;
}

/** How long the agent may take to answer Stats before it counts as unreachable, ms. */
const AGENT_ANSWER_MS = 5_000;

export async function doctorCommand(opts: { home?: string }): Promise<CommandResult> {
  const home = resolveHome(opts.home);
  const paths = homePaths(home);
  const flag = opts.home ? ` --home ${home}` : '';
  // A home that cannot even be made (under a regular file, in a directory you cannot write):
  // what `up` would fail on, said before it does.
  const blocked = cannotCreate(paths.home);
  const problem = homeProblem(paths) ?? (blocked ? { detail: blocked.problem, fix: blocked.fix } : null);
  if (problem) {
    // Nothing in an untrusted home is believed: no agent, stale or orphan check is meaningful.
    const checks: Check[] = [await checkPython(), { name: 'home', ok: false, detail: problem.detail, fix: problem.fix }, checkContainment(undefined), checkProcFacts()];
    return { json: { ok: false, home, checks }, text: formatChecks(checks), exitCode: EXIT.failed };
  }
  const state = agentState(paths);
  const checks: Check[] = [
    await checkPython(),
    checkHome(paths),
    ...(await checkAgent(home, state, flag)),
    ...checkNetwork(state),
    checkStale(paths, state, flag),
    checkOrphans(home, flag),
    checkContainment(state.state === 'running' ? state.info.containment : undefined),
    checkProcFacts(),
  ];
  const ok = checks.every((c) => c.ok);
  return { json: { ok, home, checks }, text: formatChecks(checks), exitCode: ok ? EXIT.ok : EXIT.failed };
}

export function formatChecks(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${!c.ok ? 'FAIL' : c.warn ? 'WARN' : 'ok  '}  ${c.name.padEnd(width)}  ${c.detail.split('\n').join(`\n${' '.repeat(width + 8)}`)}`);
    if ((!c.ok || c.warn) && c.fix) lines.push(`${' '.repeat(width + 8)}fix: ${c.fix}`);
  }
  return lines.join('\n');
}

async function checkPython(): Promise<Check> {
  try {
    const remembered = (await rememberedPython())?.executable;
    const info = await findPython({ remembered, cwd: process.cwd() });
    return { name: 'python', ok: true, detail: `Python ${info.python} at ${info.executable} (${info.source}) imports the runtime ${info.runtime}` };
  } catch (err) {
    return { name: 'python', ok: false, detail: (err as Error).message.split('\n').slice(0, -1).join('\n') || (err as Error).message, fix: 'install Python ≥ 3.9, then run `snakepit setup` (or `snakepit setup --python PATH`)' };
  }
}

function checkHome(paths: HomePaths): Check {
  const name = 'home';
  let mode: number;
  let uid: number;
  try {
    ({ mode, uid } = statSync(paths.home));
  } catch {
    return { name, ok: true, detail: `${paths.home} does not exist yet (\`snakepit up\` creates it)` };
  }
  if (uid !== process.getuid?.()) return { name, ok: false, detail: `${paths.home} is owned by uid ${uid}, not by you`, fix: 'use a home of your own with --home DIR or SNAKEPIT_HOME' };
  if ((mode & 0o777) !== 0o700) return { name, ok: false, detail: `${paths.home} has mode ${octal(mode)}; it must be private (0700)`, fix: `chmod 700 ${paths.home}` };
  try {
    const sock = statSync(paths.socket);
    if ((sock.mode & 0o777) !== 0o600) return { name, ok: false, detail: `${paths.socket} has mode ${octal(sock.mode)}; it must be 0600`, fix: `chmod 600 ${paths.socket}` };
  } catch {
    /* no socket: nothing to check */
  }
  return { name, ok: true, detail: `${paths.home} is yours and private (0700)` };
}

async function checkAgent(home: string, state: AgentState, flag: string): Promise<Check[]> {
  if (state.state !== 'running') {
    const detail = state.state === 'starting' ? `an agent is starting (pid ${state.pid})` : `no agent running (start one with \`snakepit up${flag}\`)`;
    return [
      { name: 'agent', ok: true, detail },
      { name: 'version', ok: true, detail: `CLI ${VERSION}; no agent to compare with` },
    ];
  }
  const { info } = state;
  let agentVersion = info.version;
  let reachable: Check;
  const client = connect({ home });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${AGENT_ANSWER_MS} ms`)), AGENT_ANSWER_MS)));
    const stats = await Promise.race([client.stats(), timeout]);
    agentVersion = stats.agent.version;
    reachable = { name: 'agent', ok: true, detail: `pid ${info.pid} answers on ${info.address}: ${count(stats.workers.length, 'worker')}, run ${stats.agent.runId}` };
  } catch (err) {
    reachable = {
      name: 'agent',
      ok: false,
      detail: `pid ${info.pid} runs but does not answer on ${info.address}: ${(err as Error).message}`,
      fix: `read ${info.logFile}, then restart it: \`snakepit down${flag} && snakepit up${flag}\``,
    };
  } finally {
    clearTimeout(timer);
    client.close();
  }
  const version: Check =
    agentVersion === VERSION
      ? { name: 'version', ok: true, detail: `agent and CLI are both ${VERSION}` }
      : { name: 'version', ok: false, detail: `agent runs ${agentVersion}, this CLI is ${VERSION}`, fix: `restart the agent with this CLI: \`snakepit down${flag} && snakepit up${flag}\`` };
  return [reachable, version];
}

/** The running agent's TCP listener, with what `up` warned about (a warning, not a failure). */
function checkNetwork(state: AgentState): Check[] {
  if (state.state !== 'running' || !state.info.network) return [];
  const n = state.info.network;
  const detail = `Agent API on TCP ${n.listen} (${TRANSPORT_TEXT[n.transport]}, token required), advertised as ${n.advertise}`;
  const warnings = state.info.warnings ?? [];
  if (warnings.length === 0) return [{ name: 'network', ok: true, detail }];
  return [{ name: 'network', ok: true, warn: true, detail: [detail, ...warnings.map((w) => `warning: ${w}`)].join('\n'), fix: 'serve TLS: `snakepit up --replace --listen … --tls-cert FILE --tls-key FILE` (make them with `snakepit certs`)' }];
}

function checkStale(paths: HomePaths, state: AgentState, flag: string): Check {
  if (state.state !== 'stale') return { name: 'stale files', ok: true, detail: 'none' };
  return {
    name: 'stale files',
    ok: false,
    detail: `agent files of a dead agent${state.pid ? ` (pid ${state.pid})` : ''} in ${paths.home} (agent.pid, agent.json, agent.sock)`,
    fix: `\`snakepit up${flag}\` replaces them, \`snakepit down${flag}\` removes them`,
  };
}

function checkOrphans(home: string, flag: string): Check {
  try {
    const orphans = findOrphans(home);
    if (orphans.length === 0) return { name: 'orphans', ok: true, detail: 'no process of a dead run is left' };
    const list = orphans.map((o) => `pid ${o.pid} (${o.cmdline.join(' ')}) of run ${o.runId}`).join('\n');
    return { name: 'orphans', ok: false, detail: `${count(orphans.length, 'process', 'processes')} of dead runs still alive:\n${list}`, fix: `\`snakepit doctor cleanup${flag}\` (see what it would kill with --dry-run)` };
  } catch (err) {
    // The registry, unless process facts themselves cannot be read (their own check says how to fix it).
    if (isSnakepitError(err) && PROC_FACTS_CODES.includes(err.code)) return { name: 'orphans', ok: false, detail: `not checked: ${messageOnly(err.message)}` };
    return { name: 'orphans', ok: false, detail: (err as Error).message, fix: `move ${homePaths(home).registryFile} aside` };
  }
}

/** What a new agent's workers get here, and what the running agent uses; never a failure. */
function checkContainment(running: string | undefined): Check {
  const plan = probeContainment();
  const here = `new workers here: ${plan.detail}`;
  return { name: 'containment', ok: true, detail: running && running !== plan.detail ? `running agent: ${running}\n${here}` : here };
}

/**
 * Where start times, groups, environments and open files are read. The ps source needs lsof to
 * prove that a live agent holds agent.pid open: without it every agent looks stale.
 */
function checkProcFacts(): Check {
  const name = 'process facts';
  try {
    // Asking about this very process runs ps (or reads /proc) once: a missing ps shows here.
    const source = processSource();
    if (!source.identity(process.pid)) return { name, ok: false, detail: `${source.kind === 'proc' ? '/proc' : 'ps'} does not show this very process` };
    if (source.kind === 'proc') return { name, ok: true, detail: 'read from /proc' };
  } catch (err) {
    const message = (err as Error).message;
    const fix = message.split('; fix: ')[1];
    return { name, ok: false, detail: messageOnly(message), ...(fix ? { fix } : {}) };
  }
  if (lsofRuns()) return { name, ok: true, detail: 'read with ps and lsof' };
  return { name, ok: false, detail: 'read with ps, but lsof is missing: no running agent can be proven to hold its agent.pid, so every agent looks stale', fix: 'install lsof' };
}

/** Errors of src/proc.ts: no process fact can be read as configured. */
const PROC_FACTS_CODES: string[] = ['CONFIG_INVALID', 'PROC_FACTS_UNAVAILABLE'];

/** A message without its "; fix: …" tail (a check shows the fix on a line of its own). */
function messageOnly(message: string): string {
  return message.split('; fix: ')[0]!;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}
