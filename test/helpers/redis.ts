// A real redis-server for the tests, on a port from ports.ts, with no
// persistence; it can be stopped and started again on the same port (the
// outage tests).
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from './ports.ts';

export interface TestRedis {
  port: number;
  url: string;
  /** Kill the server (SIGKILL: an outage, not a shutdown). */
  kill(): Promise<void>;
  /** Start it again on the same port, empty. */
  start(): Promise<void>;
  /** Send one inline command and return the raw reply (for assertions on keys). */
  command(...args: string[]): Promise<string>;
  close(): Promise<void>;
}

function waitForPort(port: number, deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(); });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`redis-server did not listen on ${port}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: 'ignore' });
    await waitForPort(port, 5000);
  };
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    command: (...args) => new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      let out = '';
      s.on('data', (d) => { out += d.toString(); s.end(); });
      s.on('end', () => resolve(out));
      s.on('error', reject);
      s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    }),
    close: kill,
  };
}
