// The client-side half of a call, shared by the embedded and the remote client: encode the
// arguments, honour an AbortSignal (listeners always removed), decode the answer, and turn a
// push-style chunk sink into an async iterator with backpressure-free buffering.
import { DEFAULTS } from '../defaults.js';
import { SnakepitError, type ErrorInfo } from '../errors.js';
import { decodeValue, encodeArgs, type EncodedValue } from '../protocol/values.js';
import type { CallSink } from '../worker/channel.js';
import type { AbortSignalLike, CallOptions } from './types.js';

export interface RawRequest {
  tool: string;
  args: EncodedValue;
  session: string | null;
  timeoutMs: number | undefined;
  idempotent: boolean;
  pool: string | undefined;
  require: Readonly<Record<string, string>> | undefined;
}

export interface CallHandle {
  cancel(): void;
}

export function toRawRequest(tool: string, args: Record<string, unknown> | undefined, options: CallOptions): RawRequest {
  if (typeof tool !== 'string' || tool.length === 0) throw new SnakepitError('INVALID_ARGUMENTS', 'tool name must be a non-empty string');
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0 && Math.ceil(options.timeoutMs) <= DEFAULTS.maxTimeoutMs)) {
    throw new SnakepitError('INVALID_ARGUMENTS', `timeoutMs must be a positive number of milliseconds up to ${DEFAULTS.maxTimeoutMs} (~24.8 days, the longest timer), got ${options.timeoutMs}`);
  }
  return {
    tool,
    args: encodeArgs(args),
    session: options.session ?? null,
    timeoutMs: options.timeoutMs === undefined ? undefined : Math.ceil(options.timeoutMs),
    idempotent: options.idempotent ?? false,
    pool: options.pool,
    require: options.require,
  };
}

function cancelledError(tool: string): SnakepitError {
  return new SnakepitError('CANCELLED', `call to '${tool}' was cancelled`);
}

/** Runs a one-result call through `start`, honouring `signal`. */
export function runExecute<T>(
  tool: string,
  signal: AbortSignalLike | undefined,
  start: (done: (error: ErrorInfo | null, value?: EncodedValue) => void) => CallHandle,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(cancelledError(tool));
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      handle.cancel();
      reject(cancelledError(tool));
    };
    const handle = start((error, value) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (error) reject(SnakepitError.from(error));
      else {
        try {
          resolve(decodeValue(value!) as T);
        } catch (err) {
          reject(err);
        }
      }
    });
    if (!settled) signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs a streaming call through `start` and exposes it as an async iterator. */
export function runStream<T>(tool: string, signal: AbortSignalLike | undefined, start: (sink: CallSink) => CallHandle): AsyncIterableIterator<T> {
  const buffered: T[] = [];
  let finished = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let handle: CallHandle | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const onAbort = (): void => {
    if (finished) return;
    handle?.cancel();
    finish(cancelledError(tool));
  };
  const finish = (err?: Error): void => {
    if (finished) return;
    finished = true;
    failure = err;
    signal?.removeEventListener('abort', onAbort);
    notify();
  };
  let started = false;
  const begin = (): void => {
    if (started) return;
    started = true;
    if (signal?.aborted) {
      finish(cancelledError(tool));
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    handle = start({
      chunk: (v) => {
        if (finished) return;
        try {
          buffered.push(decodeValue(v) as T);
        } catch (err) {
          handle?.cancel();
          finish(err as Error);
        }
        notify();
      },
      result: (v) => {
        if (!finished) buffered.push(decodeValue(v) as T);
        finish();
      },
      end: () => finish(),
      error: (e) => finish(SnakepitError.from(e)),
    });
  };
  const iterator: AsyncIterableIterator<T> = {
    async next(): Promise<IteratorResult<T>> {
      begin();
      for (;;) {
        if (buffered.length > 0) return { value: buffered.shift()!, done: false };
        if (finished) {
          if (failure) {
            const err = failure;
            failure = undefined;
            throw err;
          }
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async return(): Promise<IteratorResult<T>> {
      // The consumer stopped early (break, throw): cancel the call on its worker.
      if (!finished) {
        handle?.cancel();
        finish();
      }
      buffered.length = 0;
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
