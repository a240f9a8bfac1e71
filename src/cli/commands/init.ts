// `snakepit init [DIR]`: scaffold a tools module with examples (plain, streaming, session,
// errors), a snakepit.config.json and a README from templates/project. Existing files are never
// overwritten unless --force; the result runs with `snakepit up` unchanged.
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
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
  const clashes = files.filter((f) => existsSync(join(target, f)));
  if (clashes.length > 0 && !opts.force) {
    throw new SnakepitError('USAGE', `${target} already has ${clashes.join(', ')}; pick another directory or pass --force to overwrite`);
  }
  mkdirSync(target, { recursive: true });
  for (const f of files) copyFileSync(join(TEMPLATE, f), join(target, f));
  const rel = relative(process.cwd(), target);
  const cd = rel.startsWith('..') ? target : rel;
  const steps = [...(cd ? [`cd ${cd}`] : []), 'snakepit up', ...EXAMPLE_CALLS, 'snakepit down'];
  return {
    json: { ok: true, dir: target, files, next: steps },
    text: [`created ${files.join(', ')} in ${target}`, '', 'next:', ...steps.map((s) => `  ${s.startsWith('cd ') ? s : `npx ${s}`}`)].join('\n'),
  };
}
