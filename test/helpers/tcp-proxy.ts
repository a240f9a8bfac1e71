// A loopback TCP proxy whose link can be cut: `cut()` resets every connection through it and
// resets new ones at once (the peer looks unreachable while the far side stays up), `restore()`
// lets connections through again. For tests of a client losing its server without the server
// going away (a router cut off from etcd while agents keep registering, a lease that expires).
import { createServer, connect, type Socket } from 'node:net';

export interface TcpProxy {
  /** `127.0.0.1:PORT` to connect to instead of the target. */
  endpoint: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let open = true;
  const track = (s: Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const server = createServer((inbound) => {
    track(inbound);
    if (!open) return void inbound.resetAndDestroy();
    const outbound = connect(targetPort, targetHost);
    track(outbound);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.once('close', () => outbound.destroy());
    outbound.once('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    endpoint: `127.0.0.1:${port}`,
    cut: () => {
      open = false;
      for (const s of sockets) s.resetAndDestroy();
    },
    restore: () => {
      open = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
