// `snakepit tools`: the tools an agent serves, with their parameters.
import { connect } from '../../api/client.js';
import type { ToolInfo } from '../../client/types.js';
import { processIo, type CommandResult } from '../output.js';
import { warnOnVersionMismatch } from '../version-check.js';

export async function toolsCommand(opts: { home?: string; address?: string; pool?: string; names?: boolean }): Promise<CommandResult> {
  if (!opts.address) warnOnVersionMismatch(opts.home, processIo.stderr);
  const client = connect({ ...(opts.home ? { home: opts.home } : {}), ...(opts.address ? { address: opts.address } : {}) });
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
