// Every command has --help with at least one example, and --help / --version exit 0.
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';
import { processIo } from '../../src/cli/output.js';
import { runCli } from '../helpers/env.js';

const commands = buildProgram(processIo, async () => {})
  .commands.map((c) => c.name())
  .filter((n) => n !== 'help');

describe('help', () => {
  it.each(commands)('snakepit %s --help shows an example', async (name) => {
    const r = await runCli([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\$ snakepit /);
  });

  it('prints the version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
