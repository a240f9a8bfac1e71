// Bundles the `snakepit exec` fast path into dist/fast/ after tsc: one ESM file instead of a
// dozen modules saves Node's module loader ~8 ms per CLI call. The management client (grpc-js)
// stays a separate chunk, loaded only when a management RPC runs.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist/fast', { recursive: true, force: true });

await build({
  entryPoints: ['dist/cli/exec-fast.js'],
  outdir: 'dist/fast',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['@grpc/grpc-js', '@grpc/proto-loader'],
  logLevel: 'warning',
});
