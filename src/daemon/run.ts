// The agent daemon: one Agent plus its gRPC server on the home's unix socket. Used both by the
// detached process that `snakepit up` spawns and by `snakepit up --foreground`. It announces
// readiness (or the reason it failed) on fd 3 when its parent asked for it, writes its pid and
// agent.json, and removes them when it stops.
import { chmodSync, closeSync, writeSync, fstatSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import { Agent } from '../agent/agent.js';
import { streamLogger, type AgentLogger } from '../agent/log.js';
import { poolOptions, type AgentOptions } from '../agent/options.js';
import { serveAgent } from '../api/server.js';
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { VERSION } from '../paths.js';
import { LogFile } from './log-file.js';
import { agentState, ensureHome, homePaths, processStartTime, removeAgentFiles, writeFileAtomic, writePidFile, type AgentInfo } from './home.js';

export interface DaemonOptions extends Omit<AgentOptions, 'logger' | 'python'> {
  home: string;
  python: string;
  /** Also print log lines on stderr (foreground mode). */
  echoLogs?: boolean;
}

export interface ReadyMessage {
  ok: true;
  pid: number;
  address: string;
  workers: number;
  runId: string;
  logFile: string;
}

export interface FailedMessage {
  ok: false;
  error: { code: string; message: string };
}

/** Runs the daemon until it is stopped. `announce` receives the ready or failure message. */
export async function runDaemon(opts: DaemonOptions, announce: (msg: ReadyMessage | FailedMessage) => void): Promise<number> {
  const paths = homePaths(opts.home);
  ensureHome(paths);
  const logFile = new LogFile(paths.logFile, DEFAULTS.logMaxBytes);
  const logger: AgentLogger = streamLogger((line) => {
    logFile.write(line);
    if (opts.echoLogs) process.stderr.write(line);
  });

  const existing = agentState(paths);
  if (existing.state === 'running') {
    announce({ ok: false, error: { code: 'ALREADY_RUNNING', message: `an agent already runs for home ${paths.home} (pid ${existing.info.pid})` } });
    logFile.close();
    return 0;
  }
  removeAgentFiles(paths);
  writePidFile(paths);

  let agent: Agent | undefined;
  let server: grpc.Server | undefined;
  let stopping: Promise<void> | undefined;
  let resolveExit!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExit = r));

  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      logger.log('info', 'daemon', `stopping (${why})`);
      await agent?.stop();
      await new Promise<void>((r) => (server ? server.tryShutdown(() => r()) : r()));
      removeAgentFiles(paths);
      logger.log('info', 'daemon', 'stopped');
      logFile.close();
      resolveExit(0);
    })();
    return stopping;
  };
  const onSignal = (sig: NodeJS.Signals): void => void stop(sig);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    const pool = poolOptions(opts, opts.python);
    agent = new Agent([pool], logger);
    logger.log('info', 'daemon', `snakepit ${VERSION} starting: pid ${process.pid}, home ${paths.home}, ${pool.size} workers, python ${opts.python}, tools ${pool.spec.tools ?? 'snakepit.demo (built-in)'}`);
    await agent.start();
    const address = `unix:${paths.socket}`;
    server = await serveAgent(agent, address, { onShutdown: () => void stop('Shutdown request') }, opts.maxPayloadBytes ?? DEFAULTS.maxPayloadBytes);
    chmodSync(paths.socket, 0o600);
    const info: AgentInfo = {
      pid: process.pid,
      startTime: processStartTime(process.pid) ?? 0,
      version: VERSION,
      runId: agent.runId,
      address,
      workers: pool.size,
      workerPids: agent.workerPids(),
      startedAt: new Date(agent.startedAt).toISOString(),
      logFile: paths.logFile,
      python: opts.python,
      tools: pool.spec.tools ?? null,
    };
    writeFileAtomic(paths.infoFile, JSON.stringify(info, null, 2));
    logger.log('info', 'daemon', `listening on ${address}`);
    announce({ ok: true, pid: process.pid, address, workers: pool.size, runId: agent.runId, logFile: paths.logFile });
  } catch (err) {
    const e = err instanceof SnakepitError ? err : new SnakepitError('INTERNAL', (err as Error).message);
    logger.log('error', 'daemon', `failed to start: ${e.message}`);
    // Clean up before answering, so the caller never sees files of an agent that is gone.
    await stop('startup failed');
    announce({ ok: false, error: { code: e.code, message: e.message } });
    return 1;
  }
  const code = await exited;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  process.off('SIGHUP', onSignal);
  return code;
}

/** Writes one JSON line to fd 3 if the parent opened it for us (detached mode), then closes it. */
export function announceOnFd3(msg: ReadyMessage | FailedMessage): void {
  try {
    fstatSync(3);
  } catch {
    return;
  }
  try {
    writeSync(3, `${JSON.stringify(msg)}\n`);
    closeSync(3);
  } catch {
    /* parent gone: nothing to tell */
  }
}
