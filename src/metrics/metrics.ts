// Prometheus metrics of one agent, in a private registry (never prom-client's global one). Call
// counts and latencies are fed by the event catalog (`call.finished`); queue depth, in-flight
// calls, workers, restarts, recycles and RSS are read from `agent.snapshot()` at scrape time, so
// they agree with `snakepit stats`. Process metrics of the agent itself carry `snakepit_agent_`.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Agent } from '../agent/agent.js';
import type { AgentStats } from '../client/types.js';
import type { AgentEvent } from '../agent/events.js';

/** Latency buckets, seconds. `call.finished` carries whole milliseconds, so the first bucket is 1 ms. */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type MetricsSource = Pick<Agent, 'onEvent' | 'snapshot'>;

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly unsubscribe: () => void;
  private readonly calls: Counter<'pool' | 'tool' | 'code'>;
  private readonly duration: Histogram<'pool' | 'tool'>;
  private readonly queueDepth: Gauge<'pool'>;
  private readonly inFlight: Gauge;
  private readonly restarts: Counter<'pool' | 'worker'>;
  private readonly recycles: Counter<'pool' | 'worker'>;
  private readonly rss: Gauge<'pool' | 'worker'>;
  private readonly workers: Gauge<'pool' | 'state'>;

  constructor(private readonly agent: MetricsSource) {
    const registers = [this.registry];
    this.calls = new Counter({ name: 'snakepit_calls_total', help: 'Finished calls by pool, tool and outcome (code "OK" or the error code)', labelNames: ['pool', 'tool', 'code'], registers });
    this.duration = new Histogram({ name: 'snakepit_call_duration_seconds', help: 'Call duration from acceptance to the last answer, seconds', labelNames: ['pool', 'tool'], buckets: DURATION_BUCKETS, registers });
    this.queueDepth = new Gauge({ name: 'snakepit_queue_depth', help: 'Calls waiting for a worker', labelNames: ['pool'], registers });
    this.inFlight = new Gauge({ name: 'snakepit_calls_in_flight', help: 'Calls running on workers', registers });
    this.restarts = new Counter({ name: 'snakepit_worker_restarts_total', help: 'Workers replaced after a crash, per worker slot', labelNames: ['pool', 'worker'], registers });
    this.recycles = new Counter({ name: 'snakepit_worker_recycles_total', help: 'Workers replaced by a recycle rule (requests, TTL, RSS, reload), per worker slot', labelNames: ['pool', 'worker'], registers });
    this.rss = new Gauge({ name: 'snakepit_worker_rss_bytes', help: "Resident memory of a worker slot's Python process(es), bytes", labelNames: ['pool', 'worker'], registers });
    this.workers = new Gauge({ name: 'snakepit_workers', help: 'Worker processes by pool and state', labelNames: ['pool', 'state'], registers });
    collectDefaultMetrics({ register: this.registry, prefix: 'snakepit_agent_' });
    // prom-client's totals of active handles, requests and resources are gauges named like
    // counters (`_total`), which `promtool check metrics` rejects; the per-type gauges beside them
    // (`snakepit_agent_nodejs_active_handles{type=…}`, …) carry the same numbers.
    for (const kind of ['handles', 'requests', 'resources']) this.registry.removeSingleMetric(`snakepit_agent_nodejs_active_${kind}_total`);
    this.unsubscribe = agent.onEvent((e) => this.onEvent(e), { calls: true });
  }

  private onEvent(e: AgentEvent): void {
    if (e.type !== 'call.finished') return;
    this.calls.inc({ pool: e.pool, tool: e.tool, code: e.code ?? 'OK' });
    this.duration.observe({ pool: e.pool, tool: e.tool }, e.ms / 1000);
  }

  /** The Prometheus text exposition, with the stats-derived metrics read now. */
  async render(): Promise<string> {
    this.refresh(this.agent.snapshot());
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops listening to the agent's events. */
  dispose(): void {
    this.unsubscribe();
    this.registry.clear();
  }

  private refresh(s: AgentStats): void {
    this.queueDepth.reset();
    // The stats document has one queue depth for the whole agent: exact for one pool.
    for (const p of s.pools) this.queueDepth.set({ pool: p.name }, p.queueDepth);
    this.inFlight.set(s.calls.inFlight);
    this.workers.reset();
    this.rss.reset();
    this.restarts.reset();
    this.recycles.reset();
    // A slot can have two processes for a moment (a recycle's replacement, a retiring worker):
    // its counters are the slot's, its RSS the sum of its processes.
    const slots = new Map<string, { pool: string; worker: string; restarts: number; recycles: number; rss: number }>();
    for (const w of s.workers) {
      this.workers.inc({ pool: w.pool, state: w.state });
      const key = `${w.pool}\0${w.id}`;
      const slot = slots.get(key) ?? { pool: w.pool, worker: w.id, restarts: 0, recycles: 0, rss: 0 };
      slot.restarts = Math.max(slot.restarts, w.restarts);
      slot.recycles = Math.max(slot.recycles, w.recycles);
      if (w.state !== 'exited') slot.rss += w.rssBytes;
      slots.set(key, slot);
    }
    for (const slot of slots.values()) {
      const labels = { pool: slot.pool, worker: slot.worker };
      this.restarts.inc(labels, slot.restarts);
      this.recycles.inc(labels, slot.recycles);
      this.rss.set(labels, slot.rss);
    }
  }
}
