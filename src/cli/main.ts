// `portcullis <command>`: dispatch to one module per command.
import { readFileSync } from 'node:fs';
import { runCommand } from './run.ts';
import { validateCommand } from './validate.ts';
import { echoCommand } from './echo.ts';

const HELP = `portcullis — an API gateway for Gateway API, Envoy Gateway and Istio policies

Usage: portcullis <command> [options]

Commands:
  run        serve a configuration (no -f: the built-in quickstart)
  validate   check configuration files and print every error
  explain    show how a request would be routed and decided, without a server
  analyze    find policies that protect nothing, shadowed rules and wide-open routes
  ca         a workload CA: init, issue (SPIFFE workload certificates), issue-server
  echo       start a demo echo backend
  version    print the version

Run 'portcullis <command> --help' for a command's options.
`;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number | undefined> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'run':
      return runCommand(rest);
    case 'validate':
      return validateCommand(rest);
    case 'explain': {
      const { explainCommand } = await import('./explain.ts');
      return explainCommand(rest);
    }
    case 'analyze': {
      const { analyzeCommand } = await import('./analyze.ts');
      return analyzeCommand(rest);
    }
    case 'ca': {
      // Loaded only for this command: the certificate library stays out of the gateway process.
      const { runCaCommand } = await import('./ca.ts');
      return runCaCommand(rest);
    }
    case 'echo':
      return echoCommand(rest);
    case 'version':
    case '--version':
    case '-v':
      console.log(`portcullis ${version()} (node ${process.version})`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return cmd === undefined ? 1 : 0;
    default:
      process.stderr.write(`portcullis: unknown command "${cmd}"\n\n${HELP}`);
      return 1;
  }
}
