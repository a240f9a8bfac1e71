// stacks.ts: where a worker that never became ready is stuck, from its faulthandler dump.
import { describe, expect, it } from 'vitest';
import { parseStacks, stuckAt } from '../../src/agent/stacks.js';

const dump = `snakepit worker: loading /srv/tools.py
Thread 0x00007f3812ba56c0 (most recent call first):
  File "/usr/lib/python3.11/threading.py", line 320 in wait
  File "/srv/snakepit/worker.py", line 350 in watch

Current thread 0x00007f38139e7b80 (most recent call first):
  File "/srv/db.py", line 12 in connect
  File "/srv/tools.py", line 3 in <module>
  File "<frozen importlib._bootstrap>", line 241 in _call_with_frames_removed
  File "/srv/snakepit/loader.py", line 170 in _load_file
  File "/srv/snakepit/worker.py", line 65 in load_tools
  File "<frozen runpy>", line 88 in _run_code`.split('\n');

describe('parseStacks / stuckAt', () => {
  it('reads every thread and its frames, innermost first, ignoring other output', () => {
    const threads = parseStacks(dump);
    expect(threads.map((t) => t.frames.length)).toEqual([2, 6]);
    expect(threads[1]!.frames[0]).toBe('File "/srv/db.py", line 12 in connect');
  });

  it('picks the thread importing the tools module and its innermost frame', () => {
    const stuck = stuckAt(parseStacks(dump), '/srv/tools.py');
    expect(stuck?.where).toBe('File "/srv/db.py", line 12 in connect, from File "/srv/tools.py", line 3 in <module>');
    expect(stuckAt(parseStacks(dump), 'db')?.where).toBe('File "/srv/db.py", line 12 in connect');
    expect(stuck?.stack.split('\n')).toEqual([
      'Current thread 0x00007f38139e7b80 (most recent call first):',
      '  File "/srv/db.py", line 12 in connect',
      '  File "/srv/tools.py", line 3 in <module>',
      '  File "<frozen importlib._bootstrap>", line 241 in _call_with_frames_removed',
      '  File "/srv/snakepit/loader.py", line 170 in _load_file',
      '  File "/srv/snakepit/worker.py", line 65 in load_tools',
      '  File "<frozen runpy>", line 88 in _run_code',
    ]);
  });

  it('falls back to the current thread, and caps long stacks', () => {
    const lines = ['Thread 0x1 (most recent call first):', '  File "a.py", line 1 in f', 'Current thread 0x2 (most recent call first):', ...Array.from({ length: 50 }, (_, i) => `  File "b.py", line ${i} in g`)];
    const stuck = stuckAt(parseStacks(lines), undefined, 10);
    expect(stuck?.where).toBe('File "b.py", line 0 in g');
    expect(stuck?.stack.split('\n')).toHaveLength(12);
    expect(stuck?.stack).toMatch(/… 40 more frames$/);
  });

  it('finds a dump that starts after unterminated output, and says nothing without one', () => {
    expect(parseStacks(['50%Current thread 0x2 (most recent call first):', '  File "c.py", line 9 in <module>'])[0]!.frames).toEqual(['File "c.py", line 9 in <module>']);
    expect(stuckAt(parseStacks(['no stacks here']), undefined)).toBeUndefined();
  });
});
