// A loopback TCP proxy whose link can be cut: `cut()` resets every connection through it and
// resets new ones at once (the peer looks unreachable while the far side stays up); `blackhole()`
// stops forwarding without closing anything (a link that silently drops packets: only a
// keepalive notices); `restore()` lets connections through again (the blackholed ones are closed).
// For tests of a client losing its server without the server going away (a router cut off from
// etcd while agents keep registering, a lease that expires).
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  /** `127.0.0.1:PORT` to connect to instead of the target. */
  endpoint: string;
  cut(): void;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let mode: 'open' | 'cut' | 'blackhole' = 'open';
  const track = (s: Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server = createServer((inbound) => {
    track(inbound);
    if (mode === 'cut') return void inbound.resetAndDestroy();
    if (mode === 'blackhole') return void inbound.pause();
    const outbound = connect(targetPort, targetHost);
    track(outbound);
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.once('close', () => (pairs.delete(pair), outbound.destroy()));
    outbound.once('close', () => (pairs.delete(pair), inbound.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `127.0.0.1:${port}`,
    cut: () => {
      mode = 'cut';
      for (const s of sockets) s.resetAndDestroy();
    },
    blackhole: () => {
      mode = 'blackhole';
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    restore: () => {
      if (mode === 'blackhole') for (const s of sockets) s.destroy();
      mode = 'open';
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
