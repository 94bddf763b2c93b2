// Structured JSON logs (pino) on stderr. The access log (access-log.ts) is a
// separate stream on stdout, written asynchronously in batches, so logging
// never blocks a request.
import pino, { type Logger } from 'pino';
import { AccessLog } from './access-log.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}

export function createAccessLogger(target: 'stdout' | 'off'): AccessLog | undefined {
  return target === 'off' ? undefined : new AccessLog(1);
}
