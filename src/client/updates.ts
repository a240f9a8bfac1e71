// Turns a push source of watch updates into an async iterator; closing the iterator (break)
// stops the source. Shared by the embedded agent and the remote client.
import { SnakepitError } from '../errors.js';
import type { WatchUpdate } from './types.js';

export interface UpdateSource {
  /** Starts pushing; returns the function that stops it. */
  start(push: (u: WatchUpdate) => void, end: (err?: Error) => void): () => void;
}

export function updateIterator(source: UpdateSource): AsyncIterableIterator<WatchUpdate> {
  const buffered: WatchUpdate[] = [];
  let done = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let stop: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const ensure = (): void => {
    if (stop || done) return;
    stop = source.start(
      (u) => {
        if (done) return;
        buffered.push(u);
        notify();
      },
      (err) => {
        if (done) return;
        done = true;
        failure = err;
        notify();
      },
    );
  };
  const it: AsyncIterableIterator<WatchUpdate> = {
    async next() {
      ensure();
      for (;;) {
        if (buffered.length) return { value: buffered.shift()!, done: false };
        if (done) {
          if (failure) {
            const e = failure;
            failure = undefined;
            throw e instanceof SnakepitError ? e : new SnakepitError('UNAVAILABLE', e.message);
          }
          return { value: undefined, done: true };
        }
        await new Promise<void>((r) => (wake = r));
      }
    },
    async return() {
      done = true;
      stop?.();
      buffered.length = 0;
      notify();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
