// Warns once, on stderr, when the CLI talks to a running agent of another version (the agent
// records its version in agent.json). A version mismatch is not an error: calls still go through.
import { readFileSync } from 'node:fs';
import { homePaths, resolveHome } from '../daemon/home.js';
import { VERSION } from '../paths.js';

let warned = false;

export function warnOnVersionMismatch(home: string | undefined, stderr: (s: string) => void): void {
  if (warned) return;
  try {
    const info = JSON.parse(readFileSync(homePaths(resolveHome(home)).infoFile, 'utf8')) as { version?: string };
    if (info.version && info.version !== VERSION) {
      warned = true;
      stderr(`warning: this snakepit CLI is ${VERSION} but the running agent is ${info.version}; restart it to match (snakepit down && snakepit up)\n`);
    }
  } catch {
    /* no agent info: nothing to compare */
  }
}
