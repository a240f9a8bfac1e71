// `snakepit certs init DIR` and `snakepit certs issue DIR HOST…`: a CA and host certificates for a
// small cluster's TLS and mTLS (src/security/certs.ts, with openssl).
import { initCa, issueCert, type CertFile } from '../../security/certs.js';
import type { CommandResult } from '../output.js';

function list(files: CertFile[]): string {
  return files.map((f) => `  ${f.path}  (${f.kind}, mode ${f.mode})`).join('\n');
}

export function certsInitCommand(dir: string, opts: { force?: boolean; days?: number }): CommandResult {
  const files = initCa(dir, opts);
  return {
    json: { ok: true, files },
    text: `made a CA:\n${list(files)}\nnext: \`snakepit certs issue ${dir} HOST…\` for each agent; give clients ${files[1]!.path} as --tls-ca (keep ${files[0]!.path} on this machine only)`,
  };
}

export function certsIssueCommand(dir: string, hosts: string[], opts: { force?: boolean; days?: number; name?: string }): CommandResult {
  const { files, sans } = issueCert(dir, hosts, opts);
  const [key, cert] = [files[0]!.path, files[1]!.path];
  return {
    json: { ok: true, files, subjectAltNames: sans },
    text: `issued a certificate for ${sans.join(', ')} (server and client use):\n${list(files)}\nserve with: snakepit up --listen HOST:PORT --token-file FILE --tls-cert ${cert} --tls-key ${key}`,
  };
}
