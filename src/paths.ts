// Where the package's own files are. Found by walking up from this module to the directory that
// holds package.json and proto/, so it works from src/, dist/ and the bundled dist/fast/ alike.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`snakepit: cannot find the package root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export const PACKAGE_ROOT = packageRoot();
/** Directory holding the `snakepit` Python package. */
export const PYTHON_RUNTIME_DIR = join(PACKAGE_ROOT, 'python');
export const PROTO_DIR = join(PACKAGE_ROOT, 'proto');
export const TEMPLATES_DIR = join(PACKAGE_ROOT, 'templates');

export const VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
