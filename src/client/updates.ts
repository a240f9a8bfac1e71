// Turns a push source of watch updates into an async iterator; closing the iterator (break)
// stops the source. Shared by the embedded agent and the remote client.
//
// A consumer that does not pull cannot make it grow without bound: past `maxQueued` updates,
// events are dropped and counted and only the newest snapshot is kept; once the consumer has
// taken what was queued it gets `{ type: 'lagged', dropped }`, then that snapshot.
import { DEFAULTS } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import type { WatchUpdate } from './types.js';

export interface UpdateSource {
  /** Starts pushing; returns the function that stops it. */
  start(push: (u: WatchUpdate) => void, end: (err?: Error) => void): () => void;
}

export function updateIterator(source: UpdateSource, maxQueued: number = DEFAULTS.watchQueueUpdates): AsyncIterableIterator<WatchUpdate> {
  let buffered: WatchUpdate[] = [];
  let head = 0;
  let lagging = false;
  let dropped = 0;
  let newest: WatchUpdate | undefined;
  let done = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let stop: (() => void) | undefined;
  const notify = (): void => {
    wake?.();
    wake = undefined;
  };
  const queued = (): number => buffered.length - head;
  const take = (): WatchUpdate | undefined => {
    if (queued() === 0 && lagging) {
      // The backlog is gone: say what was missed, then the freshest snapshot.
      lagging = false;
      buffered = [...(dropped ? [{ type: 'lagged' as const, dropped }] : []), ...(newest ? [newest] : [])];
      head = 0;
      dropped = 0;
      newest = undefined;
    }
    if (queued() === 0) return undefined;
    const u = buffered[head]!;
    buffered[head++] = undefined as unknown as WatchUpdate;
    if (head === buffered.length) {
      buffered = [];
      head = 0;
    }
    return u;
  };
  const ensure = (): void => {
    if (stop || done) return;
    stop = source.start(
      (u) => {
        if (done) return;
        if (!lagging && queued() < maxQueued) buffered.push(u);
        else {
          lagging = true;
          if (u.type === 'stats') newest = u;
          else dropped += u.type === 'lagged' ? u.dropped : 1;
        }
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
        const u = take();
        if (u) return { value: u, done: false };
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
      buffered = [];
      head = 0;
      notify();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}
