// Large payloads cost time linear in their size (issue 8, item 11): the lane and the client used
// to re-concatenate everything received so far on every chunk, and the client turned a Buffer
// into an array of one number per byte before replacing it (Buffer#toJSON runs before a
// replacer). A 48 MiB round trip must cost per MiB about what an 8 MiB one does; the benchmark
// (`npm run bench -- --only=large`) holds the 2x target, this test a looser bound measured in
// one run, so that a machine's noise cannot fail it while a quadratic path (about 6x) would.
import { describe, expect, it } from 'vitest';
import { useDaemon } from './raw-peer.js';

const MiB = 1024 * 1024;
const peer = useDaemon();

async function msPerMiB(mib: number): Promise<number> {
  const value = Buffer.alloc(mib * MiB, 7);
  let best = Infinity;
  for (let i = 0; i < 2; i++) {
    const t0 = performance.now();
    const back = (await peer.client.execute('echo', { value }, { timeoutMs: 120_000 })) as Buffer;
    best = Math.min(best, (performance.now() - t0) / mib);
    expect(back.length).toBe(value.length);
    expect(back[back.length - 1]).toBe(7);
  }
  return best;
}

describe('large payloads through the daemon', () => {
  it('round-trips 48 MiB at about the per-MiB cost of 8 MiB', async () => {
    const small = await msPerMiB(8);
    const big = await msPerMiB(48);
    expect(big / small).toBeLessThan(3.5);
  }, 120_000);
});
