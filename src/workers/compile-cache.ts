// Workers start from Node's compile cache: the type-stripped source of every
// .ts file they load (and V8's code cache for it). Without it each worker
// loads Node's TypeScript stripper, whose WebAssembly memory grows with the
// source it strips and is never given back (measured here: a worker of 10
// routes idles at ~110 MiB without the cache, ~75 MiB with it), and strips
// and parses the same files again.
import module from 'node:module';
import { dirname } from 'node:path';

/**
 * Put the worker's modules in the compile cache (the primary has loaded
 * nearly all of them already), write it out, and return the environment
 * that points workers at it.
 */
export async function workerCompileCacheEnv(): Promise<Record<string, string>> {
  if (!module.getCompileCacheDir()) module.enableCompileCache();
  await import('./worker-main.ts');
  module.flushCompileCache();
  // getCompileCacheDir() names the per-Node-version subdirectory; the
  // variable wants its parent (else each worker nests a cache of its own).
  const dir = module.getCompileCacheDir();
  return dir ? { NODE_COMPILE_CACHE: dirname(dir) } : {};
}
