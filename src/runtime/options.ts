import type { LogLevel } from '../log/logger.ts';
import type { TranslateOptions } from '../translate/index.ts';
import type { RedisSettings } from '../state/redis-url.ts';

export interface RunOptions {
  /** Files and directories to serve (the quickstart's directory when started without -f). */
  paths: string[];
  watch: boolean;
  admin: { host: string; port: number };
  logLevel: LogLevel;
  accessLog: 'stdout' | 'off';
  workers: number;
  translate: TranslateOptions;
  /** Where global rate limits count (--redis); absent = none configured. */
  redis?: RedisSettings;
  /** Deadline for requests in flight on SIGTERM. */
  drainMs: number;
  /** Print each address as it starts listening. */
  print: (line: string) => void;
}
