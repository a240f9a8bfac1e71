// The agent's side of TCP, in grpc-js terms: its TLS credentials and the token check, from what
// server-files.ts read (the daemon reads the files itself: its options carry paths, never the
// token, and only the token's digest is kept). The check is a grpc-js server interceptor: a call
// without the token, or with another one, is answered UNAUTHENTICATED before its handler starts,
// before its request is even read, so it does nothing; the grpc.health.v1 service is left open
// (it tells only whether the agent serves).
import * as grpc from '@grpc/grpc-js';
import { TOKEN_HEADER, tokenProblem } from './token.js';
import type { ServerSecurity } from './server-files.js';

export type { ServerSecurity, ServerSecurityFiles } from './server-files.js';
export { loadServerSecurity } from './server-files.js';

/** grpc-js credentials of the listener: TLS (client certificates required with a client CA), else plaintext. */
export function serverCredentials(security: ServerSecurity): grpc.ServerCredentials {
  const t = security.tls;
  if (!t) return grpc.ServerCredentials.createInsecure();
  return grpc.ServerCredentials.createSsl(t.clientCa ?? null, [{ cert_chain: t.cert, private_key: t.key }], !!t.clientCa);
}

const OPEN_PREFIX = '/grpc.health.v1.Health/';

/** Refuses every call but the health service's unless it carries the token (UNAUTHENTICATED, nothing runs). */
export function tokenInterceptor(expected: Buffer): grpc.ServerInterceptor {
  return (method, call) => {
    if (method.path.startsWith(OPEN_PREFIX)) return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, pass) {
            const problem = tokenProblem(expected, metadata.get(TOKEN_HEADER));
            // Not passed on: the handler never starts, and no message of this call is read.
            if (problem) call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: problem, metadata: new grpc.Metadata() });
            else pass(metadata);
          },
        });
      },
    });
  };
}
