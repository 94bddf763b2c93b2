// Structured JSON logs (pino). The access log is a separate stream written
// asynchronously in batches, so logging never blocks a request.
import pino, { type Logger } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}

export function createAccessLogger(target: 'stdout' | 'off'): Logger | undefined {
  if (target === 'off') return undefined;
  return pino({ base: null, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: () => ({}) } }, pino.destination({ dest: 1, sync: false, minLength: 4096 }));
}
