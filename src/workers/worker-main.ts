// Entry point of each worker process (cluster.setupPrimary exec). The primary
// imports it too, only to put it in the compile cache (compile-cache.ts).
import cluster from 'node:cluster';
import { runWorker } from './worker.ts';

if (cluster.isWorker) runWorker();
