// The bare reference proxy: node:http + undici (see forward.ts), in one process
// or as a node:cluster of N processes sharing one port.
//
//   node bench/bare-proxy.ts --target http://127.0.0.1:PORT [--workers N]
// Prints one line `{"ready":true,"port":P}` once every worker listens.
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createForwarder } from './forward.ts';
import { exitWithParent } from './lifeline.ts';

function listen(target: string, port: number): Promise<number> {
  const forwarder = createForwarder(target);
  const server = createServer(forwarder.handle);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      if (typeof addr === 'object' && addr) resolve(addr.port);
      else reject(new Error('no address'));
    });
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { target: { type: 'string' }, workers: { type: 'string', default: '1' } },
  });
  const workers = Number(values.workers);
  if (!values.target || !Number.isInteger(workers) || workers < 1) {
    process.stderr.write('usage: node bench/bare-proxy.ts --target http://HOST:PORT [--workers N]\n');
    process.exit(2);
  }
  if (cluster.isWorker) {
    // Every worker asking for port 0 gets the same port from the primary.
    await listen(values.target, 0);
  } else if (workers === 1) {
    exitWithParent();
    const port = await listen(values.target, 0);
    process.stdout.write(JSON.stringify({ ready: true, port }) + '\n');
  } else {
    exitWithParent();
    let listening = 0;
    cluster.on('listening', (_worker, address) => {
      if (++listening === workers) process.stdout.write(JSON.stringify({ ready: true, port: address.port }) + '\n');
    });
    cluster.on('exit', (worker, code, signal) => {
      process.stderr.write(`bare-proxy worker ${worker.process.pid} exited (${signal ?? code})\n`);
      process.exit(1);
    });
    for (let i = 0; i < workers; i++) cluster.fork();
  }
}
