// `snakepit tools`: the tools an agent serves, with their parameters.
import { connect } from '../../api/client.js';
import type { ToolInfo } from '../../client/types.js';
import { processIo, type CommandResult } from '../output.js';
import { warnOnVersionMismatch } from '../version-check.js';
import { isLocal, targetOptions, type TargetFlags } from '../target.js';

export async function toolsCommand(opts: TargetFlags & { pool?: string; names?: boolean }): Promise<CommandResult> {
  const target = targetOptions(opts);
  if (isLocal(target)) warnOnVersionMismatch(opts.home, processIo.stderr);
  const client = connect(target);
  try {
    const tools = await client.tools(opts.pool ? { pool: opts.pool } : undefined);
    return {
      json: { tools: tools.map((t) => ({ name: t.name, doc: t.doc, params: t.params.map((p) => ({ name: p.name, type: p.type, required: p.required, default: p.default })), stream: t.stream, pool: t.pool })) },
      text: opts.names ? [...new Set(tools.map((t) => t.name))].sort().join('\n') : formatTools(tools),
    };
  } finally {
    client.close();
  }
}

export function formatTools(tools: ToolInfo[]): string {
  if (tools.length === 0) return 'no tools';
  const lines = tools
    .slice()
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((t) => {
      const params = t.params.map((p) => (p.required ? `${p.name}: ${p.type}` : `${p.name}: ${p.type} = ${JSON.stringify(p.default)}`)).join(', ');
      const sig = `${t.name}(${params})${t.stream ? ' [stream]' : ''}`;
      const doc = t.doc.split('\n')[0] ?? '';
      return doc ? `${sig}\n    ${doc}` : sig;
    });
  return lines.join('\n');
}
