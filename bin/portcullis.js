#!/usr/bin/env node
// Runs on Node 26 (the `node` devDependency, first on PATH under npm/npx):
// TypeScript is executed directly by Node's type stripping.
import module from 'node:module';

// Stripped sources and V8 code from the compile cache: later starts skip the
// TypeScript stripper and its memory (see src/workers/compile-cache.ts).
module.enableCompileCache?.();
const { main } = await import('../src/cli/main.ts');

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(`portcullis: ${err && err.message ? err.message : err}`);
    process.exitCode = 1;
  },
);
