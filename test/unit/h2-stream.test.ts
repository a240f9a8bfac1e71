// h2-stream.ts: the router's heartbeat stream over Node's http2, against a peer that may send
// anything (here a plain http2 server on a unix socket in a temporary directory).
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverStream } from '../../src/api/h2-stream.js';
import { messagePrefix } from '../../src/api/grpc-frame.js';
import { SnakepitError } from '../../src/errors.js';

const noAgent = (): SnakepitError => new SnakepitError('AGENT_UNAVAILABLE', 'nobody here');
const frame = (body: string): Buffer => Buffer.concat([messagePrefix(Buffer.byteLength(body)), Buffer.from(body)]);

let dir: string | undefined;
let server: Http2Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A server whose every stream is answered by `answer`; resolves with its socket's address. */
async function serve(answer: (stream: ServerHttp2Stream) => void): Promise<string> {
  dir = mkdtempSync(join(tmpdir(), 'sp-h2s-'));
  const path = join(dir, 's.sock');
  server = createServer();
  server.on('stream', (stream) => answer(stream));
  await new Promise<void>((r) => server!.listen(path, r));
  return `unix:${path}`;
}

/** Runs one call to its end; what arrived, and how it ended. */
function run(address: string, maxMessageBytes = 1024): Promise<{ messages: string[]; err: SnakepitError | undefined }> {
  return new Promise((resolve) => {
    const messages: string[] = [];
    serverStream({ address, path: '/p.S/M', request: frame('req'), maxMessageBytes, noAgent }, (b) => messages.push(b.toString()), (err) => resolve({ messages, err }));
  });
}

describe('serverStream over http2', () => {
  it('delivers each message, split across writes as they come, and ends without error on status OK', async () => {
    const address = await serve((s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      const two = Buffer.concat([frame('one'), frame('two')]);
      s.write(two.subarray(0, 6));
      s.end(two.subarray(6));
    });
    expect(await run(address)).toEqual({ messages: ['one', 'two'], err: undefined });
  });

  it('maps a failed status with the agent’s code, and a trailers-only answer', async () => {
    const address = await serve((s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '9', 'grpc-message': 'draining%20now', 'snakepit-code': 'DRAINING' }, { endStream: true });
    });
    const { messages, err } = await run(address);
    expect(messages).toEqual([]);
    expect(err).toMatchObject({ code: 'DRAINING', message: 'draining now' });
  });

  it('refuses a message above its limit, and a compressed one, with an error instead of buffering it', async () => {
    const big = await serve((s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' });
      s.write(messagePrefix(10_000_000)); // announces 10 MB, sends nothing more
    });
    expect((await run(big, 1024)).err?.code).toBe('PAYLOAD_TOO_LARGE');
    await new Promise<void>((r) => server!.close(() => r()));
    rmSync(dir!, { recursive: true, force: true });
    const compressed = await serve((s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' });
      const f = frame('zz');
      f[0] = 1;
      s.write(f);
    });
    expect((await run(compressed)).err?.code).toBe('PROTOCOL_ERROR');
  });

  it('a stream that closes without any status, or a socket nobody listens on, is "no agent here"', async () => {
    const address = await serve((s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' });
      s.write(frame('beat'));
      s.close(); // RST_STREAM: no trailers
    });
    const cut = await run(address);
    expect(cut.messages).toEqual(['beat']);
    expect(cut.err?.code).toBe('AGENT_UNAVAILABLE');
    expect((await run(`unix:${join(dir!, 'nobody.sock')}`)).err).toMatchObject({ code: 'AGENT_UNAVAILABLE', message: 'nobody here' });
  });

  it('cancelling ends the stream at the server and calls onEnd no more', async () => {
    let closedAtServer!: () => void;
    const closed = new Promise<void>((r) => (closedAtServer = r));
    const address = await serve((s) => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' });
      s.write(frame('first'));
      s.on('close', () => closedAtServer());
    });
    let ended = 0;
    await new Promise<void>((resolve) => {
      const cancel = serverStream({ address, path: '/p.S/M', request: frame('req'), maxMessageBytes: 1024, noAgent }, () => {
        cancel();
        resolve();
      }, () => ended++);
    });
    await closed;
    await new Promise((r) => setTimeout(r, 20));
    expect(ended).toBe(0);
  });
});
