// `snakepit init [DIR]`: scaffold a tools module with examples (plain, streaming, session,
// errors), a snakepit.config.json and a README from templates/project. Existing files are never
// overwritten unless --force; the result runs with `snakepit up` unchanged. Nothing is ever
// written through a symbolic link (a dangling one would create a file outside DIR): a link in
// place of a template's file is refused, even with --force, and files are created with O_EXCL
// or replaced by rename, so a link planted meanwhile is not followed either.
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync, type Stats } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { SnakepitError } from '../../errors.js';
import { TEMPLATES_DIR } from '../../paths.js';
import type { CommandResult } from '../output.js';

const TEMPLATE = join(TEMPLATES_DIR, 'project');

export const EXAMPLE_CALLS = [
  'snakepit exec greet name=Ada excited=true',
  'snakepit exec word_count text="a b a"',
  'snakepit exec countdown start=3 --stream',
  'snakepit exec remember item=x --session me',
  'snakepit exec divide a=1 b=0',
];

export async function initCommand(dir: string | undefined, opts: { force?: boolean }): Promise<CommandResult> {
  const target = resolve(dir ?? '.');
  const files = readdirSync(TEMPLATE);
  const existing = new Map(files.map((f) => [f, lstatOrUndefined(join(target, f))] as const).filter((e): e is [string, Stats] => e[1] !== undefined));
  for (const [f, st] of existing) {
    const path = join(target, f);
    if (st.isSymbolicLink()) {
      throw new SnakepitError('USAGE', `${path} is a symbolic link (to ${linkTarget(path)}); init never writes through a link, even with --force. Remove it (rm ${path}) or pick another directory`);
    }
    if (!st.isFile()) throw new SnakepitError('USAGE', `${path} exists and is not a regular file; remove it or pick another directory`);
  }
  if (existing.size > 0 && !opts.force) {
    throw new SnakepitError('USAGE', `${target} already has ${[...existing.keys()].join(', ')}; pick another directory or pass --force to overwrite`);
  }
  mkdirSync(target, { recursive: true });
  for (const f of files) writeNoFollow(join(target, f), readFileSync(join(TEMPLATE, f)));
  const rel = relative(process.cwd(), target);
  const cd = rel.startsWith('..') ? target : rel;
  const steps = [...(cd ? [`cd ${cd}`] : []), 'snakepit up', ...EXAMPLE_CALLS, 'snakepit down'];
  return {
    json: { ok: true, dir: target, files, next: steps },
    text: [`created ${files.join(', ')} in ${target}`, '', 'next:', ...steps.map((s) => `  ${s.startsWith('cd ') ? s : `npx ${s}`}`)].join('\n'),
  };
}

/** Creates `path` with O_EXCL ('wx': fails on any existing entry, a link included), via a temp name + rename. */
function writeNoFollow(path: string, data: Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  try {
    writeFileSync(tmp, data, { flag: 'wx', mode: 0o644 });
    renameSync(tmp, path); // replaces the entry itself, never what a link points to
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function linkTarget(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '?';
  }
}
