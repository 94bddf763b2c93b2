// Our own child scripts (upstream, bare proxy, load generators) exit when the
// harness's end of their stdin closes, so they never outlive it, even when the
// harness itself is killed with SIGKILL and cannot clean up.
export function exitWithParent(): void {
  if (process.stdin.isTTY) return; // started by hand from a terminal
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
