// Bundles, after tsc, the two entries whose start-up time users wait for:
// - dist/fast/: the `snakepit exec` fast path. One ESM file instead of a dozen modules saves
//   Node's module loader ~8 ms per CLI call. The management client (grpc-js) stays a separate
//   chunk, loaded only when a management RPC runs.
// - dist/daemon-fast/: the agent and router daemon (src/daemon/main.ts), grpc-js and pino
//   included. grpc-js alone is ~100 CommonJS files; resolving, reading and compiling them one by
//   one cost every daemon ~60-100 ms of CPU at start, and a local cluster starts 1 + N daemons at
//   once on the same cores. spawn.ts runs this entry when it exists, dist/daemon/main.js if not.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const common = { bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' };

rmSync('dist/fast', { recursive: true, force: true });
await build({ ...common, entryPoints: ['dist/cli/exec-fast.js'], outdir: 'dist/fast', external: ['@grpc/grpc-js', '@grpc/proto-loader'] });

rmSync('dist/daemon-fast', { recursive: true, force: true });
await build({
  ...common,
  entryPoints: ['dist/daemon/main.js'],
  outdir: 'dist/daemon-fast',
  // The optional gRPC worker transport loads these with createRequire, only when it is used;
  // etcd3 (membership in etcd) reads its .proto files next to itself (__dirname), so it cannot be bundled.
  external: ['@grpc/proto-loader', 'protobufjs', 'etcd3'],
  // CommonJS packages in an ES module bundle still call require() for Node's built-ins.
  banner: { js: "import { createRequire as __snakepitRequire } from 'node:module'; const require = __snakepitRequire(import.meta.url);" },
});
