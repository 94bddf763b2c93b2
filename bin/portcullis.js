#!/usr/bin/env node
// Runs on Node 26 (the `node` devDependency, first on PATH under npm/npx):
// TypeScript is executed directly by Node's type stripping.
import { main } from '../src/cli/main.ts';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(`portcullis: ${err && err.message ? err.message : err}`);
    process.exitCode = 1;
  },
);
