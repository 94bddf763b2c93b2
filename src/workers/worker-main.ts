// Entry point of each worker process (cluster.setupPrimary exec).
import { runWorker } from './worker.ts';

runWorker();
