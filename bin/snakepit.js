#!/usr/bin/env node
// Thin shim: all logic lives in the compiled CLI. `exec` first tries its fast path (bundled by
// the build into dist/fast/), which loads only the Agent API client: a CLI call should cost
// little more than starting Node.
// Output piped into a reader that stops early (`| head`) is not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});
const argv = process.argv;
let code;
if (argv[2] === 'exec') {
  const { fastExec } = await import('../dist/fast/exec-fast.js');
  code = await fastExec(argv.slice(3));
}
if (code === undefined) {
  const { main } = await import('../dist/cli/main.js');
  code = await main(argv);
}
process.exitCode = code;
