// `npm test` set-up: installs the Debian packages the tests talk to when they
// are missing (as root, through apt-get), so that `npm ci && npm test` works
// on a fresh machine. Prints what it does; fails loudly when it cannot.
import { execFileSync, spawnSync } from 'node:child_process';

/** command the tests run → Debian package that provides it. */
const NEEDED: { command: string; pkg: string }[] = [
  { command: 'curl', pkg: 'curl' }, // expect-continue.test.ts: curl decides about Expect as users' curl does
  { command: 'redis-server', pkg: 'redis-server' },
  { command: 'etcd', pkg: 'etcd-server' }, // management-etcd.test.ts: a fleet on one etcd
  // management-kubectl.test.ts: kubectl itself. Debian's package of it (1.20); a newer kubectl on the PATH is used as is.
  { command: 'kubectl', pkg: 'kubernetes-client' },
];

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

const missing = NEEDED.filter((n) => !has(n.command));
if (missing.length > 0) {
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  if (process.getuid?.() !== 0) {
    console.error(`tests need: ${pkgs.join(' ')} — install them (apt-get install ${pkgs.join(' ')}) or run as root`);
    process.exit(1);
  }
  console.log(`installing OS packages the tests use: ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: 'inherit', env });
}
