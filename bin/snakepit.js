#!/usr/bin/env node
// Thin shim: all logic lives in the compiled CLI entry.
import { main } from '../dist/cli/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
