// Peers that never read what the agent sends them (bench scenario `slowreader`, and the
// backpressure tests): streaming calls on the local lane, WatchEvents streams over HTTP/2 with
// call events, and a flood of unary calls whose replies are never read. Each connection is
// paused at once, so everything the agent sends piles up on its side unless it holds back.
import { connect as h2connect, constants } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { encodeMessage } from '../../dist/api/agent-codec.js';

function prefixed(body) {
  const p = Buffer.alloc(5);
  p.writeUInt32BE(body.length, 1);
  return Buffer.concat([p, body]);
}

function lane(home) {
  return new Promise((resolve, reject) => {
    const s = netConnect(join(home, 'exchange.sock'), () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * Opens the slow peers; `close()` drops them all. `streams`: streaming calls of `tokens` with
 * `words` words each, on one lane connection; `watchers`: WatchEvents streams with call events;
 * `calls`: unary `add` calls on another lane connection.
 */
export async function laneFlood(home, { streams = 50, words = 20_000, watchers = 20, calls = 20_000 } = {}) {
  const open = [];
  const text = Array.from({ length: words }, (_, i) => `w${i}`).join(' ');
  if (streams > 0) {
    const s = await lane(home);
    s.on('error', () => {});
    s.pause();
    const batch = { calls: Array.from({ length: streams }, (_, i) => ({ id: i + 1, request: { tool: 'tokens', argsJson: Buffer.from(JSON.stringify({ text })) }, stream: true })), cancels: [] };
    s.write(prefixed(encodeMessage('ClientBatch', batch)));
    open.push(() => s.destroy());
  }
  if (calls > 0) {
    const s = await lane(home);
    s.on('error', () => {});
    s.pause();
    const per = 5_000;
    for (let first = 0; first < calls; first += per) {
      const n = Math.min(per, calls - first);
      const batch = { calls: Array.from({ length: n }, (_, i) => ({ id: first + i + 1, request: { tool: 'add', argsJson: Buffer.from(`{"a":${i},"b":1}`) }, stream: false })), cancels: [] };
      s.write(prefixed(encodeMessage('ClientBatch', batch)));
    }
    open.push(() => s.destroy());
  }
  if (watchers > 0) {
    const session = h2connect('http://localhost', { createConnection: () => netConnect(join(home, 'agent.sock')) });
    session.on('error', () => {});
    for (let i = 0; i < watchers; i++) {
      const st = session.request({ [constants.HTTP2_HEADER_METHOD]: 'POST', [constants.HTTP2_HEADER_PATH]: '/snakepit.v1.Agent/WatchEvents', 'content-type': 'application/grpc', te: 'trailers' });
      st.on('error', () => {});
      st.pause();
      st.end(prefixed(encodeMessage('WatchRequest', { intervalMs: 50, calls: true })));
    }
    open.push(() => session.destroy());
  }
  return { close: () => open.forEach((f) => f()) };
}
