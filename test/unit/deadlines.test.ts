// An answer at or after its call's deadline is a TIMEOUT (src/agent/deadlines.ts): the rule that
// keeps a busy agent from reporting success for a call that ran past its timeout.
import { describe, expect, it } from 'vitest';
import { lateAnswer } from '../../src/agent/deadlines.js';

describe('lateAnswer', () => {
  const call = { tool: 'sleep', deadline: 1_300, startedAt: 1_000 };
  it('lets an answer before the deadline through', () => {
    expect(lateAnswer(call, 1_299)).toBeUndefined();
  });
  it('turns an answer at or after the deadline into TIMEOUT, saying how long the call took', () => {
    expect(lateAnswer(call, 1_300)?.code).toBe('TIMEOUT');
    const late = lateAnswer(call, 1_317)!;
    expect(late.code).toBe('TIMEOUT');
    expect(late.message).toMatch(/317 ms/);
  });
  it('never times out a call without a deadline', () => {
    expect(lateAnswer({ ...call, deadline: null }, 10 ** 12)).toBeUndefined();
  });
});
