// A tool that ignores its cancellation gets its worker recycled after cancelGraceMs. That is an
// expected stop: it must be logged as a recycle, at info, and never as a protocol failure (the
// worker leaves with unread frames in its pipe, which the agent's side sees as ECONNRESET/EPIPE).
import { describe, expect, it } from 'vitest';
import type { AgentEvent } from '../../src/index.js';
import type { LogLevel } from '../../src/agent/log.js';
import { waitFor } from '../helpers/env.js';
import { chaosAgent, codeOf } from './helpers.js';

describe('chaos: recycle after an ignored cancellation', () => {
  it('logs the recycle and the old worker exit at info, with no protocol error', async () => {
    const lines: Array<{ level: LogLevel; source: string; message: string }> = [];
    const events: AgentEvent[] = [];
    const a = await chaosAgent({
      workers: 1,
      cancelGraceMs: 200,
      heartbeatMs: 100,
      logger: { log: (level, source, message) => lines.push({ level, source, message }) },
      onEvent: (e) => events.push(e),
    });
    const [old] = a.workerPids();
    // `stubborn` sleeps through the CANCEL that its timeout sends.
    expect(await codeOf(a.execute('stubborn', { seconds: 30 }, { timeoutMs: 300 }))).toBe('TIMEOUT');
    await waitFor(() => events.some((e) => e.type === 'worker.exited' && e.pid === old), 15_000);
    // The replacement serves.
    expect(await a.execute('pid')).not.toBe(old);
    const exit = events.find((e) => e.type === 'worker.exited' && e.pid === old);
    expect(exit).toMatchObject({ expected: true, reason: null });
    const fromWorker = lines.filter((l) => l.source === 'default-0');
    expect(fromWorker.filter((l) => l.level === 'error')).toEqual([]);
    expect(fromWorker.find((l) => /recycling pid/.test(l.message))).toMatchObject({ level: 'info' });
    const exited = fromWorker.filter((l) => /exited with/.test(l.message));
    expect(exited).toHaveLength(1);
    expect(exited[0]).toMatchObject({ level: 'info' });
    expect(exited[0]!.message).not.toMatch(/protocol|ECONNRESET|EPIPE/);
    expect(exited[0]!.message).toMatch(/recycled: a cancelled call kept running/);
  });
});
