// The dashboard's only data source: one WatchEvents stream of the Agent API (stats snapshots
// every interval plus agent events). When the stream fails or ends (agent stopped, restarted,
// never started) a fresh client retries with backoff until an agent answers again; a fresh client
// per attempt avoids inheriting the old channel's own, much longer, reconnect backoff.
import { useEffect, useRef, type RefObject } from 'react';
import type { WatchOptions, WatchUpdate } from '../client/types.js';
import type { DashboardAction } from './state.js';

/**
 * What the dashboard needs of an Agent API client (connect() gives all of it). `cordon` and
 * `drainAgent` are a router's controls over one of its agents; a client without them (a single
 * agent's, or one from before routers had them) makes `c` and `d` on an agent say so instead.
 */
export interface DashboardClient {
  watch(options?: WatchOptions): AsyncIterableIterator<WatchUpdate>;
  restartWorker(id: string): Promise<void>;
  drain(deadlineMs?: number): Promise<{ drained: boolean; pid: number }>;
  /** Cordons (on) or uncordons (off) agent `agentId` of a router: no new calls or sessions go to it. */
  cordon?(agentId: string, on: boolean): Promise<unknown>;
  /** Drains agent `agentId` of a router: it takes no new calls, its accepted calls finish. */
  drainAgent?(agentId: string, deadlineMs?: number): Promise<unknown>;
  close(): void;
}

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 250, maxMs: 2_000 };

/**
 * Runs the watch loop while mounted; returns the client of the live stream (null while none).
 * A stream that stays silent for three intervals (plus slack) counts as lost: an agent that
 * hangs must not freeze the screen on old numbers without saying so.
 */
export function useAgentWatch(
  open: () => DashboardClient,
  intervalMs: number,
  dispatch: (action: DashboardAction) => void,
  backoff: Backoff = DEFAULT_BACKOFF,
  now: () => number = Date.now,
): RefObject<DashboardClient | null> {
  const current = useRef<DashboardClient | null>(null);
  useEffect(() => {
    let stopped = false;
    let delay = backoff.initialMs;
    let retry: NodeJS.Timeout | undefined;
    let stall: NodeJS.Timeout | undefined;
    let updates: AsyncIterableIterator<WatchUpdate> | undefined;
    const stallMs = intervalMs * 3 + 2_000;

    const attempt = async (): Promise<void> => {
      const client = open();
      current.current = client;
      let reason = 'the agent closed the stream';
      let stalled = false;
      const arm = (): void => {
        clearTimeout(stall);
        stall = setTimeout(() => {
          stalled = true;
          void updates?.return?.();
        }, stallMs);
      };
      try {
        updates = client.watch({ intervalMs });
        arm();
        for await (const u of updates) {
          if (stopped) return;
          arm();
          if (u.type === 'stats') {
            delay = backoff.initialMs;
            dispatch({ type: 'stats', stats: u.stats, at: now() });
          } else if (u.type === 'event') {
            dispatch({ type: 'event', event: u.event, at: now() });
          } else {
            dispatch({ type: 'notice', text: `the view fell behind: ${u.dropped} events skipped`, tone: 'warn', at: now(), log: true });
          }
        }
        if (stalled) reason = `no snapshot for ${Math.round(stallMs / 1000)} s`;
      } catch (err) {
        reason = err instanceof Error ? err.message : String(err);
      } finally {
        clearTimeout(stall);
      }
      if (stopped) return;
      client.close();
      if (current.current === client) current.current = null;
      dispatch({ type: 'disconnected', reason, retryInMs: delay, at: now() });
      retry = setTimeout(() => void attempt(), delay);
      delay = Math.min(delay * 2, backoff.maxMs);
    };

    void attempt();
    return () => {
      stopped = true;
      clearTimeout(retry);
      clearTimeout(stall);
      void updates?.return?.();
      current.current?.close();
      current.current = null;
    };
    // The loop restarts only when what it watches changes.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [open, intervalMs]);
  return current;
}
