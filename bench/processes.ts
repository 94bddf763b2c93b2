// Every child process the bench starts, kept in one registry so that every way
// out (normal end, an error, Ctrl-C, SIGTERM) stops them all. Each child leads
// its own process group (detached), so one signal to the group also reaches
// the workers it forked (the gateway's, the bare cluster's, nginx's).
import { spawn, type ChildProcess } from 'node:child_process';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  name: string;
  pid: number;
  proc: ChildProcess;
  exited: Promise<ExitInfo>;
  alive(): boolean;
  /** The last few KB of its stdout and stderr, for error messages. */
  output(): string;
  /** Resolves with the first stdout line the predicate accepts; rejects if the child exits first or time runs out. */
  waitForLine(accept: (line: string) => boolean, timeoutMs: number): Promise<string>;
  stop(): Promise<void>;
}

const OUTPUT_TAIL_BYTES = 8 * 1024;
const TERM_GRACE_MS = 3000;
const running = new Set<Child>();

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Keep stdin open as a pipe: our own scripts exit when it closes, so they die with the harness even on SIGKILL. */
  stdinLifeline?: boolean;
}

export function startChild(name: string, command: string, args: string[], opts: StartOptions = {}): Child {
  const proc = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: [opts.stdinLifeline ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) {
    // spawn failures (ENOENT, EACCES) are reported through 'error'; surface them synchronously.
    throw new Error(`${name}: could not start ${command}`);
  }
  const pid = proc.pid;
  let tail = '';
  let stdoutBuffer = '';
  const lineWaiters = new Set<(line: string) => void>();
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
  };
  proc.stdout!.on('data', (chunk: Buffer) => {
    keep(chunk);
    if (lineWaiters.size === 0) return;
    stdoutBuffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = stdoutBuffer.indexOf('\n')) >= 0) {
      const line = stdoutBuffer.slice(0, nl);
      stdoutBuffer = stdoutBuffer.slice(nl + 1);
      for (const w of lineWaiters) w(line);
    }
  });
  proc.stderr!.on('data', keep);
  let done = false;
  const exited = new Promise<ExitInfo>((resolve) => {
    proc.on('error', (err) => {
      tail += `\n[spawn error: ${err.message}]`;
      done = true;
      resolve({ code: null, signal: null });
    });
    proc.on('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });

  const child: Child = {
    name,
    pid,
    proc,
    exited,
    alive: () => !done,
    output: () => tail,
    waitForLine(accept, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`${name}: no ready line within ${timeoutMs} ms\n${tail}`)), timeoutMs);
        const onLine = (line: string): void => {
          if (accept(line)) finish(undefined, line);
        };
        const finish = (err?: Error, line?: string): void => {
          clearTimeout(timer);
          lineWaiters.delete(onLine);
          if (err) reject(err);
          else resolve(line!);
        };
        lineWaiters.add(onLine);
        exited.then((info) => finish(new Error(`${name} exited (${describeExit(info)}) before it was ready\n${tail}`)));
      });
    },
    async stop() {
      if (done) {
        signalGroup(pid, 'SIGKILL'); // stragglers whose leader already left
        running.delete(child);
        return;
      }
      signalGroup(pid, 'SIGTERM');
      const graceful = await Promise.race([exited.then(() => true), delay(TERM_GRACE_MS).then(() => false)]);
      signalGroup(pid, 'SIGKILL');
      if (!graceful) await Promise.race([exited, delay(TERM_GRACE_MS)]);
      running.delete(child);
    },
  };
  running.add(child);
  return child;
}

export function describeExit(info: ExitInfo): string {
  return info.signal ? `signal ${info.signal}` : `code ${info.code}`;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the whole group is gone already.
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

let installed = false;

/** Stop every child on any way out. Call once, at start. */
export function installCleanup(): void {
  if (installed) return;
  installed = true;
  // Last resort, synchronous: 'exit' handlers cannot wait.
  process.on('exit', () => {
    for (const c of running) signalGroup(c.pid, 'SIGKILL');
  });
  const onSignal = (signal: NodeJS.Signals, code: number): void => {
    process.stderr.write(`\nbench: ${signal}, stopping child processes…\n`);
    stopAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => onSignal('SIGINT', 130));
  process.once('SIGTERM', () => onSignal('SIGTERM', 143));
  process.once('SIGHUP', () => onSignal('SIGHUP', 129));
}
