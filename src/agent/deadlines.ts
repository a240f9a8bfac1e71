// Deadlines decide, not the order of events. A tool sees its call's deadline (ctx.cancelled
// turns true at it) and often answers right then, at the very moment the agent's own timer
// fires. On a busy machine the agent wakes late from that timer, finds the answer already there
// and handles it first: measured with 8 CPU-bound processes on 2 cores, 10 of 30 calls to the
// demo `sleep` with a 300 ms timeout "succeeded" after 301–317 ms. An answer that comes at or
// after the deadline is therefore a TIMEOUT, as the timer would have said. Pure: `now` is passed in.
import type { ErrorInfo } from '../errors.js';

export function lateAnswer(call: { tool: string; deadline: number | null; startedAt: number }, now: number): ErrorInfo | undefined {
  if (call.deadline === null || now < call.deadline) return undefined;
  return { code: 'TIMEOUT', message: `call to '${call.tool}' timed out after ${now - call.startedAt} ms (its answer came after the deadline)` };
}
