// Reading the Python stacks a worker prints on SIGUSR1 (faulthandler, armed before the tools
// module is imported): when a worker is not ready in time, they say where it is stuck, usually a
// tools module that hangs on import. Pure: lines in, a summary out.
//
//   Thread 0x00007f3812ba56c0 (most recent call first):
//     File "/usr/lib/python3.11/threading.py", line 320 in wait
//
//   Current thread 0x00007f38139e7b80 (most recent call first):
//     File "/srv/tools.py", line 3 in <module>
//     File "<frozen importlib._bootstrap>", line 241 in _call_with_frames_removed

export interface ThreadStack {
  /** The thread's header line, e.g. "Current thread 0x00007f38139e7b80 (most recent call first):". */
  header: string;
  /** Its frames, innermost first, as printed ("File "x", line 3 in f"). */
  frames: string[];
}

const HEADER = /^(?:Current thread|Thread|Stack)\b.*\(most recent call first\):\s*$/;
const FRAME = /^\s+(File ".*", line \d+ in .*|<no Python frame>|\.\.\.)\s*$/;

/** Every thread stack in `lines` (anything else on stderr around them is ignored). */
export function parseStacks(lines: readonly string[]): ThreadStack[] {
  const threads: ThreadStack[] = [];
  let current: ThreadStack | undefined;
  for (const raw of lines) {
    // A dump may start right after unterminated output on the same line.
    const at = raw.search(/(?:Current thread|Thread) 0x[0-9a-fA-F]+/);
    const line = at > 0 ? raw.slice(at) : raw;
    if (HEADER.test(line)) {
      current = { header: line.trim(), frames: [] };
      threads.push(current);
      continue;
    }
    const frame = FRAME.exec(line);
    if (frame && current) current.frames.push(frame[1]!);
    else current = undefined;
  }
  return threads;
}

export interface Stuck {
  /**
   * Where it waits: the innermost frame of the thread that matters, followed by the innermost
   * frame in the tools module when that is another one, e.g.
   * 'File "/usr/lib/python3.11/threading.py", line 327 in wait, from File "/srv/tools.py", line 8 in connect'.
   */
  where: string;
  /** That thread's stack, indented, innermost first (at most `maxFrames` frames). */
  stack: string;
}

/**
 * Where a worker that never became ready is stuck: the thread that is importing the tools module
 * (its stack runs through the runtime's loader or the module's file), else the thread that
 * received the signal, else the first. `tools` is the tools spec: a .py path or a module name.
 * Undefined when no stack was printed.
 */
export function stuckAt(threads: readonly ThreadStack[], tools: string | undefined, maxFrames = 40): Stuck | undefined {
  const withFrames = threads.filter((t) => t.frames.length > 0);
  const inModule = moduleFrame(tools);
  const thread =
    withFrames.find((t) => t.frames.some((f) => f.includes('/snakepit/loader.py"'))) ??
    withFrames.find((t) => t.frames.some(inModule)) ??
    withFrames.find((t) => t.header.startsWith('Current thread')) ??
    withFrames[0];
  if (!thread) return undefined;
  const shown = thread.frames.slice(0, maxFrames);
  const more = thread.frames.length - shown.length;
  const innermost = thread.frames[0]!;
  const own = thread.frames.find(inModule);
  return {
    where: own && own !== innermost ? `${innermost}, from ${own}` : innermost,
    stack: [thread.header, ...shown.map((f) => `  ${f}`), ...(more > 0 ? [`  … ${more} more frames`] : [])].join('\n'),
  };
}

/** A test for frames in the tools module's own file: the path itself, or a module name's file. */
function moduleFrame(tools: string | undefined): (frame: string) => boolean {
  if (!tools) return () => false;
  if (tools.endsWith('.py') || tools.includes('/')) return (f) => f.startsWith(`File "${tools}"`);
  const path = tools.replace(/\./g, '/');
  return (f) => f.includes(`/${path}.py"`) || f.includes(`/${path}/__init__.py"`);
}
