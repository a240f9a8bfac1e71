// Finding a Python interpreter that can run the worker runtime. Candidates, in order: an explicit
// `--python`, SNAKEPIT_PYTHON, the interpreter remembered by `snakepit setup`, a project `.venv`,
// `python3` on PATH, `/usr/bin/python3`. A candidate counts only once it has imported the runtime;
// what is kept is its real `sys.executable` (a pyenv shim on PATH costs ~180 ms per spawn).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ENV } from '../defaults.js';
import { SnakepitError } from '../errors.js';
import { PYTHON_RUNTIME_DIR } from '../paths.js';

export const MIN_PYTHON: [number, number] = [3, 9];

export interface PythonInfo {
  /** The real interpreter executable (`sys.executable`). */
  executable: string;
  /** Python version, e.g. "3.11.2". */
  python: string;
  /** Version of the snakepit Python runtime it imported. */
  runtime: string;
  /** Where the choice came from. */
  source: string;
}

export interface Candidate {
  command: string;
  source: string;
  /** An explicit choice fails loudly instead of falling through to the next candidate. */
  explicit: boolean;
}

export function candidates(opts: { python?: string | undefined; remembered?: string | undefined; cwd: string }): Candidate[] {
  const list: Candidate[] = [];
  if (opts.python) list.push({ command: opts.python, source: '--python', explicit: true });
  const env = process.env[ENV.python];
  if (env) list.push({ command: env, source: ENV.python, explicit: true });
  if (list.length > 0) return list;
  if (opts.remembered) list.push({ command: opts.remembered, source: 'remembered by snakepit setup', explicit: false });
  const venv = join(opts.cwd, '.venv', 'bin', 'python');
  if (existsSync(venv)) list.push({ command: venv, source: 'project .venv', explicit: false });
  list.push({ command: 'python3', source: 'python3 on PATH', explicit: false });
  list.push({ command: '/usr/bin/python3', source: '/usr/bin/python3', explicit: false });
  return list;
}

/** Runs `python -m snakepit --check` and validates the answer. */
export function probe(candidate: Candidate): Promise<PythonInfo> {
  return new Promise((resolve, reject) => {
    execFile(
      candidate.command,
      ['-m', 'snakepit', '--check'],
      { env: { ...process.env, PYTHONPATH: [PYTHON_RUNTIME_DIR, process.env.PYTHONPATH].filter(Boolean).join(':') }, timeout: 15_000 },
      (err, stdout, stderr) => {
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string | null };
          if (e.code === 'ENOENT') return reject(new Error(`${candidate.command} (${candidate.source}): not found`));
          if (e.code === 'EACCES') return reject(new Error(`${candidate.command} (${candidate.source}): not executable (permission denied)`));
          // A Python too old to even parse the runtime (Python 2: a SyntaxError) says so by its version.
          void pythonVersion(candidate.command).then((version) => {
            const [major, minor] = version ? version.split('.').map(Number) : [];
            if (version && (major! < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor! < MIN_PYTHON[1]))) {
              reject(new Error(`${candidate.command} (${candidate.source}): Python ${version} is too old (needs ≥ ${MIN_PYTHON.join('.')})`));
              return;
            }
            const told = failureReason(stderr);
            const why = told
              ? told
              : e.killed
                ? 'did not answer within 15 s'
                : `exited with ${typeof e.code === 'number' ? `code ${e.code}` : (e.signal ?? 'an error')} and printed nothing${version ? '' : ': is it a Python interpreter?'}`;
            reject(new Error(`${candidate.command} (${candidate.source}): ${why}`));
          });
          return;
        }
        try {
          const info = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { executable: string; python: string; runtime: string };
          const [major, minor] = info.python.split('.').map(Number);
          if (major! < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor! < MIN_PYTHON[1])) {
            reject(new Error(`${candidate.command} (${candidate.source}): Python ${info.python} is too old, need ${MIN_PYTHON.join('.')} or newer`));
            return;
          }
          resolve({ ...info, source: candidate.source });
        } catch {
          reject(new Error(`${candidate.command} (${candidate.source}): unexpected answer from the runtime check: ${stdout.slice(0, 200)}`));
        }
      },
    );
  });
}

/**
 * What a failed interpreter's stderr says, in one line: a Python error's last line (the
 * exception), or for a pyenv shim that has no version selected (its message spans lines and
 * ends with a tip) what happened and the fix. Undefined when it printed nothing. Pure.
 */
export function failureReason(stderr: string): string | undefined {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length === 0) return undefined;
  const shim = /^pyenv: (.+?): command not found$/.exec(lines[0]!);
  if (shim) {
    const at = lines.findIndex((l) => /exists in these Python versions/.test(l));
    const versions = at >= 0 ? lines.slice(at + 1).filter((l) => /^\d[\w.-]*$/.test(l)) : [];
    const where = versions.length ? ` (it exists in ${versions.join(', ')})` : '';
    return `a pyenv shim, and no Python selected for this directory provides '${shim[1]}'${where}: choose one with \`pyenv local VERSION\` (or \`pyenv global VERSION\`), or pass the interpreter itself, e.g. --python "$(pyenv which python3)"`;
  }
  if (/^pyenv: /.test(lines[0]!)) return `${lines[0]} (a pyenv shim: pass the interpreter itself, e.g. --python "$(pyenv which python3)")`;
  return lines[lines.length - 1];
}

/** `major.minor` of an interpreter, asked in a way Python 2 and 3 both understand; undefined if it is none. */
function pythonVersion(command: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(command, ['-c', "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])"], { timeout: 5_000 }, (err, stdout) => {
      resolve(!err && /^\d+\.\d+$/.test(stdout.trim()) ? stdout.trim() : undefined);
    });
  });
}

/** The first candidate that works, or PYTHON_NOT_FOUND listing why each one failed. */
export async function findPython(opts: { python?: string | undefined; remembered?: string | undefined; cwd: string }): Promise<PythonInfo> {
  const tried: string[] = [];
  for (const c of candidates(opts)) {
    try {
      return await probe(c);
    } catch (err) {
      tried.push((err as Error).message);
      if (c.explicit) break;
    }
  }
  throw new SnakepitError(
    'PYTHON_NOT_FOUND',
    `no usable Python ${MIN_PYTHON.join('.')}+ found. Tried:\n  - ${tried.join('\n  - ')}\n` +
      `Install Python 3 (e.g. \`apt-get install python3\`) or point Snakepit at one with --python PATH or ${ENV.python}=PATH, then run \`snakepit setup\`.`,
  );
}
