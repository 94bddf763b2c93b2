import { startEcho } from '../demo/echo.ts';
import { parse, positiveInt } from './args.ts';

const HELP = `Usage: portcullis echo [--port 9081] [--host 127.0.0.1] [--name v1]

Starts the demo backend: it answers every request with a JSON description of
what it received, and an x-backend header with its name. On command it
misbehaves, as the backend of Envoy Gateway's traffic task pages does:

  GET  /status/500          answers that status
  GET  /anything?delay=10s  answers after that long (at most 60s)
  GET  /healthz             200, or the status set by POST /healthz?status=503
`;

export async function echoCommand(argv: string[]): Promise<number | undefined> {
  const { values } = parse(argv, {
    port: { type: 'string', default: '9081' },
    host: { type: 'string', default: '127.0.0.1' },
    name: { type: 'string', default: 'echo' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const echo = await startEcho(values.name!, values.host!, positiveInt(values.port!, '--port'));
  console.log(`echo backend "${values.name}" on http://${values.host}:${echo.port}`);
  const stop = () => void echo.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return undefined;
}
