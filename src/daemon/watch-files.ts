// `snakepit up --watch`: reload when the tools file(s) or the config change, the way PM2's
// `--watch` and nodemon do. Editors save in bursts (write, rename, chmod), so changes are
// debounced; a reload already running is followed by one more, never by several at once. Only
// the config file itself and `.py` files beside each tools file count (a tools module's local
// imports live there; caches and swap files do not).
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export interface WatchTargets {
  /** The config file, when the agent runs from one. */
  config?: string | undefined;
  /** Each pool's tools file (a module name is not watched). */
  tools: string[];
}

/** Which directories to watch and which names in each count (pure). */
export function watchPlan(t: WatchTargets): Map<string, (name: string) => boolean> {
  const plan = new Map<string, Array<(name: string) => boolean>>();
  const add = (dir: string, match: (name: string) => boolean): void => void plan.set(dir, [...(plan.get(dir) ?? []), match]);
  if (t.config) {
    const name = basename(t.config);
    add(dirname(t.config), (n) => n === name);
  }
  for (const file of t.tools) if (file.endsWith('.py')) add(dirname(file), (n) => n.endsWith('.py') && !n.startsWith('.'));
  return new Map([...plan].map(([dir, ms]) => [dir, (n: string) => ms.some((m) => m(n))]));
}

/**
 * Calls `reload` `debounceMs` after the last change of a watched file; returns the function that
 * stops watching. `onError` hears a directory that cannot be watched (the others still are).
 */
export function watchFiles(targets: WatchTargets, debounceMs: number, reload: (why: string) => Promise<void>, onError: (message: string) => void): () => void {
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again: string | undefined;
  let closed = false;
  const fire = (why: string): void => {
    if (closed) return;
    if (running) {
      again = why;
      return;
    }
    running = reload(why)
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
        if (again !== undefined) {
          const next = again;
          again = undefined;
          fire(next);
        }
      });
  };
  for (const [dir, counts] of watchPlan(targets)) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        const file = name?.toString();
        if (!file || !counts(file)) return;
        clearTimeout(timer);
        timer = setTimeout(() => fire(`${file} changed`), debounceMs);
      });
      w.on('error', (err) => onError(`stopped watching ${dir}: ${err.message}`));
      watchers.push(w);
    } catch (err) {
      onError(`cannot watch ${dir}: ${(err as Error).message}`);
    }
  }
  return () => {
    closed = true;
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
