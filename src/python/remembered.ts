// The interpreter `snakepit setup` proved, kept in the user's config (via conf). Loaded lazily:
// conf pulls in a JSON-schema validator that commands like `exec` must not pay for.
import { ENV } from '../defaults.js';

interface Stored {
  python?: { executable: string; python: string; runtime: string; source: string; checkedAt: string };
}

async function store() {
  const { default: Conf } = await import('conf');
  const cwd = process.env[ENV.configDir];
  return new Conf<Stored>({ projectName: 'snakepit', projectSuffix: '', ...(cwd ? { cwd } : {}) });
}

export async function rememberedPython(): Promise<Stored['python']> {
  return (await store()).get('python');
}

export async function rememberPython(info: NonNullable<Stored['python']>): Promise<string> {
  const s = await store();
  s.set('python', info);
  return s.path;
}
