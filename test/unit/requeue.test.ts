// requeue.ts: which calls a dead worker never started, and what becomes of them.
import { describe, expect, it } from 'vitest';
import { requeueVerdict, splitUnanswered, type RequeueContext } from '../../src/agent/requeue.js';

describe('splitUnanswered', () => {
  it('keeps the `capacity` oldest unanswered calls as possibly started, the rest never started', () => {
    expect(splitUnanswered(['a', 'b', 'c', 'd'], 1, true)).toEqual({ mayHaveStarted: ['a'], neverStarted: ['b', 'c', 'd'] });
    expect(splitUnanswered(['a', 'b', 'c', 'd'], 3, true)).toEqual({ mayHaveStarted: ['a', 'b', 'c'], neverStarted: ['d'] });
    expect(splitUnanswered(['a'], 4, true)).toEqual({ mayHaveStarted: ['a'], neverStarted: [] });
    expect(splitUnanswered([], 1, true)).toEqual({ mayHaveStarted: [], neverStarted: [] });
  });

  it('counts every call as possibly started when some answers may be lost', () => {
    expect(splitUnanswered(['a', 'b', 'c'], 1, false)).toEqual({ mayHaveStarted: ['a', 'b', 'c'], neverStarted: [] });
  });

  it('treats a capacity below 1 as 1 (a worker always runs one call)', () => {
    expect(splitUnanswered(['a', 'b'], 0, true)).toEqual({ mayHaveStarted: ['a'], neverStarted: ['b'] });
  });
});

describe('requeueVerdict', () => {
  const now = 1_000_000;
  const ctx: RequeueContext = { now, pool: 'p', stopping: false, maxRequeues: 3, strictSessionLost: false, workerId: 'p-0' };
  const call = { tool: 'add', session: null, deadline: null, requeues: 0 };

  it('requeues a call that never started, keeping a deadline that has not passed', () => {
    expect(requeueVerdict(call, ctx)).toEqual({ requeue: true });
    expect(requeueVerdict({ ...call, deadline: now + 1 }, ctx)).toEqual({ requeue: true });
    expect(requeueVerdict({ ...call, requeues: 2 }, ctx)).toEqual({ requeue: true });
  });

  it('fails it with TIMEOUT once its deadline passed', () => {
    const v = requeueVerdict({ ...call, deadline: now }, ctx);
    expect(v).toMatchObject({ requeue: false, error: { code: 'TIMEOUT' } });
    expect(!v.requeue && v.error.message).toMatch(/never started/);
  });

  it('fails a strict session whose worker died with SESSION_WORKER_LOST (its state is gone)', () => {
    expect(requeueVerdict({ ...call, session: 's1' }, { ...ctx, strictSessionLost: true })).toMatchObject({ requeue: false, error: { code: 'SESSION_WORKER_LOST' } });
  });

  it('is bounded: after maxRequeues it fails with UNAVAILABLE, saying the call never ran', () => {
    const v = requeueVerdict({ ...call, requeues: 3 }, ctx);
    expect(v).toMatchObject({ requeue: false, error: { code: 'UNAVAILABLE' } });
    expect(!v.requeue && v.error.message).toMatch(/4 workers .* died before reaching it/);
    expect(requeueVerdict(call, { ...ctx, maxRequeues: 0 })).toMatchObject({ requeue: false, error: { code: 'UNAVAILABLE' } });
  });

  it('requeues nothing while the pool stops', () => {
    expect(requeueVerdict(call, { ...ctx, stopping: true })).toMatchObject({ requeue: false, error: { code: 'UNAVAILABLE' } });
  });
});
