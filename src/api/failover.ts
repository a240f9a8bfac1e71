// A client given several addresses (`--address a,b`, `connect({ addresses })`: usually routers,
// which are stateless and interchangeable) fails over between them. The rule is the router's
// own retry rule (src/cluster/retry.ts), at the client: a call that never reached an address
// (nothing answered there, TLS failed, it was refused as DRAINING) goes to the next one; a call
// that may have run there goes again only when the caller marked it idempotent; a stream that
// already delivered chunks never does. Each address is tried at most once per call. The address
// that answered last is the one new calls go to first.
import type { AgentApi, AgentHealth, AgentLoad, AgentRequest, AgentStats, CallControl, CallSink, ClusterOutcome, ClusterRequest, EncodedValue, ReloadResult, ScaleResult, ToolInfo, WatchOptions, WatchUpdate } from './agent-api.js';
import { SnakepitError, type ErrorInfo } from '../errors.js';
import type { RemoteAgent } from './remote-agent.js';

/** Failures that say nothing ran at that address, or that nothing answers there. */
const ADDRESS_FAILURES = new Set(['AGENT_UNAVAILABLE', 'TLS_ERROR', 'DRAINING']);

export interface FailedAttempt {
  /** The failed attempt's error. */
  code: string;
  /** It never reached the address (not written to a connected stream; grpc-js: no connection). */
  unsent: boolean;
  /** The caller marked the call idempotent (reads such as stats and tools are). */
  idempotent: boolean;
  /** Part of the answer (a chunk, a watch update) already reached the caller. */
  delivered: boolean;
  /** Addresses tried for this call so far, the failed one included, and how many there are. */
  tried: number;
  addresses: number;
}

/** Whether the call goes to the next address (pure). */
export function shouldFailOver(a: FailedAttempt): boolean {
  if (a.tried >= a.addresses || a.delivered || !ADDRESS_FAILURES.has(a.code)) return false;
  // DRAINING: the address refused the call, so it did not run there.
  return a.unsent || a.code === 'DRAINING' || a.idempotent;
}

/** The methods of a RemoteAgent that connect() offers besides AgentApi. */
type Remote = Pick<RemoteAgent, 'address' | 'id' | 'call' | 'tools' | 'stats' | 'health' | 'load' | 'drainAgent' | 'reload' | 'scale' | 'restartWorker' | 'cluster' | 'shutdownAgent' | 'watch' | 'close'>;

const NULL_VALUE: EncodedValue = { json: Buffer.from('null'), blobs: [] };

export class FailoverAgent implements AgentApi {
  /** Index of the address new calls try first. */
  private current = 0;

  constructor(private readonly remotes: readonly Remote[]) {
    if (remotes.length === 0) throw new SnakepitError('USAGE', 'no agent address given');
  }

  get id(): string {
    return this.remotes[this.current]!.id;
  }

  get address(): string {
    return this.remotes.map((r) => r.address).join(',');
  }

  execute(req: AgentRequest, done: (error: ErrorInfo | null, value?: EncodedValue) => void): CallControl {
    return this.call(req, false, { chunk() {}, result: (v) => done(null, v), end: () => done(null, NULL_VALUE), error: (e) => done(e) });
  }

  stream(req: AgentRequest, sink: CallSink): CallControl {
    return this.call(req, true, sink);
  }

  call(req: AgentRequest, stream: boolean, sink: CallSink): CallControl {
    if (this.remotes.length === 1) return this.remotes[0]!.call(req, stream, sink);
    let at = this.current;
    let tried = 0;
    let delivered = false;
    let cancelled = false;
    let control: CallControl | undefined;
    const attempt = (): void => {
      tried++;
      const here = at;
      control = this.remotes[here]!.call(req, stream, {
        chunk: (v) => {
          delivered = true;
          sink.chunk(v);
        },
        result: (v) => {
          this.answered(here);
          sink.result(v);
        },
        end: () => {
          this.answered(here);
          sink.end();
        },
        error: (e) => {
          if (!cancelled && shouldFailOver({ code: e.code, unsent: !!e.unsent, idempotent: !!req.idempotent, delivered, tried, addresses: this.remotes.length })) {
            at = this.next(here);
            attempt();
          } else sink.error(e);
        },
      });
    };
    attempt();
    return {
      cancel: () => {
        cancelled = true;
        control?.cancel();
      },
    };
  }

  tools(pool?: string): Promise<ToolInfo[]> {
    return this.rpc((r) => r.tools(pool), true);
  }

  stats(): Promise<AgentStats> {
    return this.rpc((r) => r.stats(), true);
  }

  health(): Promise<AgentHealth> {
    return this.rpc((r) => r.health(), true);
  }

  load(): Promise<AgentLoad> {
    return this.rpc((r) => r.load(), true);
  }

  async drain(deadlineMs?: number): Promise<boolean> {
    return (await this.drainAgent(deadlineMs)).drained;
  }

  drainAgent(deadlineMs?: number): Promise<{ drained: boolean; pid: number }> {
    return this.rpc((r) => r.drainAgent(deadlineMs), false);
  }

  reload(pool?: string): Promise<ReloadResult> {
    return this.rpc((r) => r.reload(pool), false);
  }

  scale(size: number, pool?: string): Promise<ScaleResult> {
    return this.rpc((r) => r.scale(size, pool), false);
  }

  restartWorker(worker: string): Promise<void> {
    return this.rpc((r) => r.restartWorker(worker), false);
  }

  cluster(request: ClusterRequest): Promise<ClusterOutcome> {
    return this.rpc((r) => r.cluster(request), false);
  }

  async shutdown(graceMs?: number): Promise<void> {
    await this.shutdownAgent(graceMs);
  }

  shutdownAgent(graceMs?: number): Promise<number> {
    return this.rpc((r) => r.shutdownAgent(graceMs), false);
  }

  /** A watch on the first address that answers; once it delivered an update, its end is the watch's end. */
  watch(options: WatchOptions, push: (update: WatchUpdate) => void, end: (err?: Error) => void): () => void {
    let at = this.current;
    let tried = 0;
    let delivered = false;
    let stop: () => void = () => {};
    let stopped = false;
    const attempt = (): void => {
      tried++;
      const here = at;
      stop = this.remotes[here]!.watch(
        options,
        (u) => {
          if (!delivered) this.answered(here);
          delivered = true;
          push(u);
        },
        (err) => {
          const e = err as SnakepitError | undefined;
          if (!stopped && e && shouldFailOver({ code: e.code, unsent: true, idempotent: true, delivered, tried, addresses: this.remotes.length })) {
            at = this.next(here);
            attempt();
          } else end(err);
        },
      );
    };
    attempt();
    return () => {
      stopped = true;
      stop();
    };
  }

  close(): void {
    for (const r of this.remotes) r.close();
  }

  private async rpc<T>(run: (r: Remote) => Promise<T>, idempotent: boolean): Promise<T> {
    let at = this.current;
    for (let tried = 1; ; tried++) {
      try {
        const value = await run(this.remotes[at]!);
        this.answered(at);
        return value;
      } catch (err) {
        const e = err as SnakepitError;
        if (!shouldFailOver({ code: e.code, unsent: !!e.unsent, idempotent, delivered: false, tried, addresses: this.remotes.length })) throw err;
        at = this.next(at);
      }
    }
  }

  /** The address after `i`; new calls start there too once `i` failed. */
  private next(i: number): number {
    const n = (i + 1) % this.remotes.length;
    if (this.current === i) this.current = n;
    return n;
  }

  private answered(i: number): void {
    this.current = i;
  }
}
