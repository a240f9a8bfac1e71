// What the local lane holds of messages that have not fully arrived (issue 8, item 10): a large
// message is admitted whole by the length in its prefix, within a budget shared by all
// connections; one that does not fit waits with its connection paused (its bytes stay in the
// kernel, not in the agent) until another completes. A partial message that stops making
// progress closes its connection. The lane and agent here are the real ones, in this process,
// with small limits so the rules show with a few MiB.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { Agent } from '../../src/agent/agent.js';
import { silentLogger } from '../../src/agent/log.js';
import { resolvePools } from '../../src/agent/options.js';
import { encodeMessage } from '../../src/api/agent-codec.js';
import { serveLocalLane, type LocalLane } from '../../src/api/local-lane.js';
import { PYTHON, tempDir, waitFor } from '../helpers/env.js';
import { grpcMessage, laneConnect, serverReplies } from './raw-peer.js';

const MiB = 1024 * 1024;
const dir = tempDir('sp-lane-');
let agent: Agent;
const lanes: LocalLane[] = [];

beforeAll(async () => {
  agent = new Agent(await resolvePools({ python: PYTHON, workers: 1 }), silentLogger);
  await agent.start();
});

afterAll(async () => {
  await Promise.all(lanes.map((l) => l.close()));
  await agent?.stop();
  dir.cleanup();
});

async function lane(name: string, limits: { inboundBufferBytes?: number; stalledMessageMs?: number }): Promise<string> {
  const path = join(dir.path, name);
  lanes.push(await serveLocalLane(agent, path, 64 * MiB, limits));
  return path;
}

function echoCall(id: number, bytes: number): Buffer {
  return grpcMessage(encodeMessage('ClientBatch', { calls: [{ id, request: { tool: 'echo', argsJson: Buffer.from(JSON.stringify({ value: 'x'.repeat(bytes) })) }, stream: false }], cancels: [] }));
}

/** Ids of the results a connection received so far. */
function results(s: Socket): () => number[] {
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  return () => serverReplies(Buffer.concat(chunks)).filter((r) => r.result).map((r) => r.id);
}

describe('partly received messages on the local lane', () => {
  it('admits a large message only when it fits the budget shared by all connections', async () => {
    const path = await lane('budget.sock', { inboundBufferBytes: 8 * MiB, stalledMessageMs: 10_000 });
    const a = await laneConnect(path);
    const b = await laneConnect(path);
    const gotA = results(a);
    const gotB = results(b);
    const msgA = echoCall(1, 5 * MiB);
    a.write(msgA.subarray(0, msgA.length - 10));
    await new Promise((r) => setTimeout(r, 200));
    // A holds 5 of the 8 MiB; B's 5 MiB message waits, whole in the socket, never read.
    b.write(echoCall(2, 5 * MiB));
    await new Promise((r) => setTimeout(r, 700));
    expect(gotB()).toEqual([]);
    a.write(msgA.subarray(msgA.length - 10));
    await waitFor(() => gotA().includes(1) && gotB().includes(2), 10_000);
    a.destroy();
    b.destroy();
  });

  it('closes a connection whose partial message makes no progress', async () => {
    const path = await lane('stall.sock', { stalledMessageMs: 300 });
    const stalled = await laneConnect(path);
    const slow = await laneConnect(path);
    let stalledClosed = false;
    let slowClosed = false;
    stalled.on('close', () => (stalledClosed = true));
    slow.on('close', () => (slowClosed = true));
    stalled.on('error', () => {});
    slow.on('error', () => {});
    const msg = echoCall(1, 2_000);
    stalled.write(msg.subarray(0, 100));
    // The slow one keeps sending a few bytes every 100 ms: it is slow, not stalled.
    const gotSlow = results(slow);
    for (let o = 0; o < msg.length; o += 200) {
      slow.write(msg.subarray(o, o + 200));
      await new Promise((r) => setTimeout(r, 100));
      if (o > 1_000) expect(stalledClosed).toBe(true);
    }
    await waitFor(() => gotSlow().includes(1), 5_000);
    expect(slowClosed).toBe(false);
    slow.destroy();
  });
});
