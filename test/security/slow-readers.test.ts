// Clients that never read (issue 8, item 10): what the agent holds for them is bounded. A
// streaming call whose chunks pile up unread fails with SLOW_CONSUMER (its tool is cancelled),
// the connection stops being read meanwhile, and a WatchEvents stream that falls behind gets
// `lagged: N` and a fresh snapshot instead of an unbounded queue. Calls that are refused at once
// leave nothing behind in the session's table.
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../src/api/agent-codec.js';
import { waitFor } from '../helpers/env.js';
import { grpcMessage, h2Session, laneConnect, rssMiB, serverReplies, useDaemon } from './raw-peer.js';
import { constants } from 'node:http2';

const peer = useDaemon(['--workers', '2'], { warmUpCalls: 200 });

describe('a client that does not read', () => {
  it('gets SLOW_CONSUMER for a stream it leaves unread, and the agent stays bounded', async () => {
    const before = rssMiB(peer.daemon.pid);
    // ~20 MiB of chunks (200k words of 100 characters), more than the 8 MiB replyBufferBytes.
    const word = 'w'.repeat(99);
    const text = Array.from({ length: 200_000 }, () => word).join(' ');
    const s = await laneConnect(peer.daemon.lane);
    s.pause();
    s.write(grpcMessage(encodeMessage('ClientBatch', { calls: [{ id: 1, request: { tool: 'tokens', argsJson: Buffer.from(JSON.stringify({ text })) }, stream: true }], cancels: [] })));
    // The tool is cancelled once the backlog is over the limit: the agent runs no call any more.
    await waitFor(async () => (await peer.client.stats()).calls.inFlight === 0 && (await peer.client.stats()).calls.failed > 0, 20_000, 100);
    const held = rssMiB(peer.daemon.pid) - before;
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.resume();
    await waitFor(() => serverReplies(Buffer.concat(chunks)).some((r) => r.error), 10_000);
    s.destroy();
    const all = serverReplies(Buffer.concat(chunks));
    const chunksRead = all.filter((r) => r.chunk).length;
    expect(all.find((r) => r.error)?.error?.code).toBe('SLOW_CONSUMER');
    // It got part of the stream (up to the limit), not all 200k chunks.
    expect(chunksRead).toBeGreaterThan(0);
    expect(chunksRead).toBeLessThan(200_000);
    // The 20 MiB argument is held while the call runs; what piles up unread is capped near 8 MiB.
    expect(held).toBeLessThan(80);
    expect(await peer.client.execute('add', { a: 1, b: 1 })).toBe(2);
  });

  it('drops events for a watcher that falls behind, then says how many, then sends fresh stats', async () => {
    const session = await h2Session(peer.daemon.socket);
    try {
      const st = session.request({ [constants.HTTP2_HEADER_METHOD]: 'POST', [constants.HTTP2_HEADER_PATH]: '/snakepit.v1.Agent/WatchEvents', 'content-type': 'application/grpc', te: 'trailers' });
      st.on('error', () => {});
      st.pause();
      st.end(grpcMessage(encodeMessage('WatchRequest', { intervalMs: 50, calls: true })));
      // 20k call.finished events: far more than a 256 KiB watch buffer holds unread.
      for (let i = 0; i < 20; i++) await Promise.all(Array.from({ length: 1_000 }, (_, j) => peer.client.execute('add', { a: j, b: i })));
      const chunks: Buffer[] = [];
      st.on('data', (c: Buffer) => chunks.push(c));
      st.resume();
      const updates = (): Array<{ statsJson?: string; eventJson?: string; lagged?: number }> => {
        const data = Buffer.concat(chunks);
        const out: Array<{ statsJson?: string; eventJson?: string; lagged?: number }> = [];
        for (let o = 0; o + 5 <= data.length; ) {
          const len = data.readUInt32BE(o + 1);
          if (o + 5 + len > data.length) break;
          out.push(decodeMessage('AgentUpdate', data.subarray(o + 5, o + 5 + len)));
          o += 5 + len;
        }
        return out;
      };
      await waitFor(() => updates().some((u) => u.lagged !== undefined), 10_000);
      const all = updates();
      const at = all.findIndex((u) => u.lagged !== undefined);
      expect(all[at]!.lagged).toBeGreaterThan(1_000);
      // Fewer events were delivered than happened, and the agent said so.
      expect(all.filter((u) => u.eventJson).length).toBeLessThan(20_000);
      await waitFor(() => updates().slice(at + 1).some((u) => u.statsJson), 5_000);
      st.close();
    } finally {
      session.destroy();
    }
  });

  it('keeps nothing of calls refused at once (QUEUE_FULL), however many a connection sends', async () => {
    const s = await laneConnect(peer.daemon.lane);
    s.on('data', () => {});
    const before = rssMiB(peer.daemon.pid);
    const batch = (first: number): Buffer =>
      grpcMessage(encodeMessage('ClientBatch', { calls: Array.from({ length: 5_000 }, (_, i) => ({ id: first + i, request: { tool: 'sleep', argsJson: Buffer.from('{"seconds":0.001}') }, stream: false })), cancels: [] }));
    for (let b = 0; b < 20; b++) s.write(batch(1 + b * 5_000));
    await waitFor(async () => (await peer.client.stats()).calls.inFlight === 0 && (await peer.client.stats()).queue.depth === 0, 20_000, 100);
    // The connection stays open: a session table that kept refused calls would hold ~100k entries here.
    const grown = rssMiB(peer.daemon.pid) - before;
    s.destroy();
    expect(grown).toBeLessThan(100);
  });
});
