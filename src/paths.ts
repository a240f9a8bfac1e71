// Where the package's own files are, whether running from dist/ or src/ (both one level deep).
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';

const root = fileURLToPath(new URL('..', import.meta.url));

export const PACKAGE_ROOT = root;
/** Directory holding the `snakepit` Python package. */
export const PYTHON_RUNTIME_DIR = fileURLToPath(new URL('../python', import.meta.url));
export const PROTO_DIR = fileURLToPath(new URL('../proto', import.meta.url));
export const TEMPLATES_DIR = fileURLToPath(new URL('../templates', import.meta.url));

export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
