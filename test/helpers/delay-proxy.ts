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
  const pipe = (from: Socket, to: Socket): void => {
    let releaseAt = 0;
    let pending = 0;
    let ended = false;
    const maybeEnd = (): void => {
      if (ended && pending === 0) to.end();
    };
    from.on('data', (chunk: Buffer) => {
      const wanted = Date.now() + delay.baseMs + (random() * 2 - 1) * delay.jitterMs;
      releaseAt = Math.max(releaseAt, wanted);
      pending++;
      setTimeout(() => {
        pending--;
        forwarded++;
        if (!to.destroyed) to.write(chunk);
        maybeEnd();
      }, Math.max(0, releaseAt - Date.now()));
    });
    from.on('end', () => {
      ended = true;
      maybeEnd();
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
