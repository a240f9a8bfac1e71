// The local lane: the Agent API's Exchange stream served directly on a unix socket in the home
// (mode 0600, like the gRPC socket), without HTTP/2. Same messages (ClientBatch / ServerBatch),
// the same codec as the gRPC server, the same 5-byte gRPC message prefix, the same semantics;
// only the HTTP/2 layer is left out. Loading node:http2 and its handshake cost a CLI call ~25 ms,
// most of `snakepit exec`'s budget, so local clients use this lane; gRPC over HTTP/2 stays the
// API for addresses and TCP.
import { chmodSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import type { Agent } from '../agent/agent.js';
import { exchangeSession } from './server.js';
import { decodeMessage, encodeMessage } from './agent-codec.js';
import { messagePrefix } from './wire.js';
import type { WireClientBatch } from './proto.js';

export interface LocalLane {
  close(): Promise<void>;
}

export async function serveLocalLane(agent: Agent, socketPath: string, maxMessageBytes: number): Promise<LocalLane> {
  rmSync(socketPath, { force: true });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay?.(true);
    const session = exchangeSession(agent, (replies) => {
      if (socket.destroyed) return;
      const body = encodeMessage('ServerBatch', { replies });
      socket.write(Buffer.concat([messagePrefix(body.length), body]));
    });
    let chunks: Buffer[] = [];
    let have = 0;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      have += chunk.length;
      while (have >= 5) {
        const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        const len = buf.readUInt32BE(1);
        if (len > maxMessageBytes) {
          socket.destroy();
          return;
        }
        if (buf.length < 5 + len) {
          chunks = [buf];
          return;
        }
        const rest = buf.subarray(5 + len);
        chunks = rest.length ? [rest] : [];
        have = rest.length;
        let batch;
        try {
          batch = decodeMessage<WireClientBatch>('ClientBatch', buf.subarray(5, 5 + len));
        } catch {
          socket.destroy();
          return;
        }
        session.onBatch(batch);
      }
    });
    const close = (): void => {
      sockets.delete(socket);
      session.close();
    };
    socket.on('close', close);
    socket.on('error', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.end();
        server.close(() => resolve());
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 1_000).unref();
        rmSync(socketPath, { force: true });
      }),
  };
}
