// The agent's only view of a worker's protocol. The default transport is framed pipes
// (pipe-channel.ts); a gRPC transport implements the same contract, so the pool never knows
// which one it drives.
import type { ToolDescription } from '../client/types.js';
import type { ErrorInfo } from '../errors.js';
import type { EncodedValue } from '../protocol/values.js';

export interface ReadyInfo {
  pid: number;
  python: string;
  runtime: string;
  module: string;
  threads: number;
  tools: ToolDescription[];
}

/** Where a worker's answers to one call go. Exactly one of result/end/error ends the call. */
export interface CallSink {
  chunk(value: EncodedValue): void;
  result(value: EncodedValue): void;
  end(): void;
  error(info: ErrorInfo): void;
}

export interface CallFrame {
  id: number;
  tool: string;
  session: string | null;
  /** Time left for the call, ms, or null for no deadline. */
  timeoutMs: number | null;
  args: EncodedValue;
}

export interface LogLine {
  level: string;
  logger: string;
  message: string;
  callId: number;
}

export interface WorkerChannelEvents {
  ready(info: ReadyInfo): void;
  /** A frame about a call: routed by id. */
  frame(id: number, sink: 'chunk' | 'result' | 'end', value: EncodedValue | null): void;
  callError(id: number, info: ErrorInfo): void;
  pong(seq: number): void;
  log(line: LogLine): void;
  /** The channel cannot be used any more (malformed or oversized frame, closed pipe). */
  failed(err: Error): void;
}

export interface WorkerChannel {
  /** Resolves once the worker's side of the channel has closed (all its frames were read). */
  readonly ended: Promise<void>;
  send(call: CallFrame): void;
  cancel(id: number): void;
  ping(seq: number): void;
  /** Ask the worker to finish its calls and exit. */
  shutdown(): void;
  /** Stop reading and writing; the process is handled by its owner. */
  close(): void;
}

/**
 * How the agent reaches a worker process: what the process needs on its command line and which
 * extra file descriptors it gets, then how the channel is opened once it runs.
 */
export interface WorkerTransport {
  readonly name: string;
  /** Command-line arguments for `python -m snakepit`, and how many pipes beyond stdio to create. */
  prepare(workerId: string): { args: string[]; env: Record<string, string>; extraPipes: number };
  /** Releases what `prepare` reserved when the worker could not be spawned (no channel opened). */
  discard?(prepared: { args: string[]; env: Record<string, string> }): void;
  /** Opens the channel to a just-spawned worker (its stdio includes the extra pipes). */
  open(child: import('node:child_process').ChildProcess, prepared: { args: string[]; env: Record<string, string> }, events: WorkerChannelEvents, maxFrameBytes: number): WorkerChannel;
}

/** The channel of a worker that was never spawned: nothing to read, writes go nowhere. */
export function closedChannel(): WorkerChannel {
  return { ended: Promise.resolve(), send() {}, cancel() {}, ping() {}, shutdown() {}, close() {} };
}
