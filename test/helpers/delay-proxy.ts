// A TCP proxy that adds latency, for a slow link where the kernel has no netem: every chunk, in
// each direction, is forwarded after a delay drawn from [base - jitter, base + jitter] ms, but
// never before the chunk ahead of it (TCP keeps order, so must the proxy). It listens on
// loopback only.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  /** Where clients connect: 127.0.0.1:port. */
  address: string;
  port: number;
  /** Chunks forwarded so far (both directions). */
  forwarded(): number;
  close(): Promise<void>;
}

export async function delayProxy(target: { host: string; port: number }, delay: { baseMs: number; jitterMs: number }, random: () => number = Math.random): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  let forwarded = 0;
  // One queue and at most one timer per direction: chunks leave strictly in arrival order (timers
  // of different durations that come due in the same millisecond may fire in any order, and one
  // reordered chunk corrupts a TLS record).
  const pipe = (from: Socket, to: Socket): void => {
    const queue: Array<{ chunk: Buffer; at: number }> = [];
    let timer: NodeJS.Timeout | undefined;
    let releaseAt = 0;
    let ended = false;
    const flush = (): void => {
      timer = undefined;
      const now = Date.now();
      while (queue.length && queue[0]!.at <= now) {
        forwarded++;
        if (!to.destroyed) to.write(queue.shift()!.chunk);
        else queue.shift();
      }
      if (queue.length) timer = setTimeout(flush, queue[0]!.at - now);
      else if (ended) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      releaseAt = Math.max(releaseAt, Date.now() + delay.baseMs + (random() * 2 - 1) * delay.jitterMs);
      queue.push({ chunk, at: releaseAt });
      timer ??= setTimeout(flush, Math.max(0, queue[0]!.at - Date.now()));
    });
    from.on('end', () => {
      ended = true;
      if (!queue.length && !timer) to.end();
    });
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    forwarded: () => forwarded,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
