// Every argument kind a tool can declare, end to end through a real worker: how it is described,
// what is accepted, and what is refused (INVALID_ARGUMENTS naming the parameter).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { startAgent, type EmbeddedAgent, type SnakepitError } from '../../src/index.js';
import { FIXTURES, PYTHON } from '../helpers/env.js';

let agent: EmbeddedAgent;
beforeAll(async () => {
  agent = await startAgent({ python: PYTHON, workers: 1, tools: join(FIXTURES, 'kinds_tools.py') });
});
afterAll(() => agent?.stop());

const valid = { i: 1, f: 2.5, s: 'ß🐍', b: false, ints: [1, 2], d: { k: [1, { x: null }] } };

async function invalid(args: Record<string, unknown>): Promise<string> {
  const err = (await agent.execute('kinds', args).catch((e: unknown) => e)) as SnakepitError;
  expect(err.code).toBe('INVALID_ARGUMENTS');
  return err.message;
}

describe('argument kinds', () => {
  it('describes each parameter from its annotation, default and kind', async () => {
    const kinds = (await agent.tools()).find((t) => t.name === 'kinds')!;
    expect(kinds.doc).toMatch(/^Echo every argument back/);
    const byName = Object.fromEntries(kinds.params.map((p) => [p.name, p]));
    expect(byName.i).toMatchObject({ type: 'integer', required: true });
    expect(byName.f).toMatchObject({ type: 'number', required: true });
    expect(byName.s).toMatchObject({ type: 'string', required: true });
    expect(byName.b).toMatchObject({ type: 'boolean', required: true });
    expect(byName.ints).toMatchObject({ type: 'array<integer>', required: true });
    expect(byName.d).toMatchObject({ type: 'object', required: true });
    expect(byName.maybe).toMatchObject({ type: 'integer | null', required: false, default: null });
    expect(byName.union_new).toMatchObject({ type: 'string | null', required: false, default: 'dflt' });
    expect(byName.kw).toMatchObject({ type: 'integer', required: false, default: 7 });
    const untyped = (await agent.tools()).find((t) => t.name === 'untyped')!;
    expect(untyped.params).toEqual([
      expect.objectContaining({ name: 'x', type: 'any', required: true }),
      expect.objectContaining({ name: 'y', required: false, default: 3 }),
    ]);
    const ctxTool = (await agent.tools()).find((t) => t.name === 'needs_ctx')!;
    expect(ctxTool.params.map((p) => p.name)).toEqual(['n']);
  });

  it('passes each kind through with the right Python type, applying defaults', async () => {
    const out = (await agent.execute('kinds', valid)) as Record<string, [unknown, string]>;
    expect(out.i).toEqual([1, 'int']);
    expect(out.f).toEqual([2.5, 'float']);
    expect(out.s).toEqual(['ß🐍', 'str']);
    expect(out.b).toEqual([false, 'bool']);
    expect(out.ints).toEqual([[1, 2], 'list']);
    expect(out.d).toEqual([{ k: [1, { x: null }] }, 'dict']);
    expect(out.maybe).toEqual([null, 'NoneType']);
    expect(out.union_new).toEqual(['dflt', 'str']);
    expect(out.kw).toEqual([7, 'int']);
    const withOptional = (await agent.execute('kinds', { ...valid, f: 3, maybe: 5, union_new: null, kw: 9 })) as Record<string, [unknown, string]>;
    expect(withOptional.f).toEqual([3, 'int']); // an integer is a valid number
    expect(withOptional.maybe).toEqual([5, 'int']);
    expect(withOptional.union_new).toEqual([null, 'NoneType']);
    expect(withOptional.kw).toEqual([9, 'int']);
    expect(await agent.execute('untyped', { x: { any: ['thing'] } })).toEqual([{ any: ['thing'] }, 3]);
  });

  it('refuses wrong kinds, naming the parameter', async () => {
    expect(await invalid({ ...valid, i: true })).toMatch(/'i'/); // bool is not an integer
    expect(await invalid({ ...valid, i: 1.5 })).toMatch(/'i'/);
    expect(await invalid({ ...valid, f: '1' })).toMatch(/'f'/);
    expect(await invalid({ ...valid, s: 5 })).toMatch(/'s'/);
    expect(await invalid({ ...valid, b: 'yes' })).toMatch(/'b'/);
    expect(await invalid({ ...valid, ints: [1, 'two'] })).toMatch(/'ints'/);
    expect(await invalid({ ...valid, d: [1] })).toMatch(/'d'/);
    expect(await invalid({ ...valid, maybe: 'x' })).toMatch(/'maybe'/);
    const { s: _s, ...missing } = valid;
    expect(await invalid(missing)).toMatch(/'s'/);
    expect(await invalid({ ...valid, extra: 1 })).toMatch(/'extra'/);
  });

  it('injects the context: session id and the deadline reach Python', async () => {
    expect(await agent.execute('needs_ctx', { n: 2 }, { session: 'k1', timeoutMs: 5000 })).toEqual({ session: 'k1', has_deadline: true, n: 2 });
    expect(await agent.execute('needs_ctx', {})).toEqual({ session: null, has_deadline: false, n: 1 });
  });
});
