// Why a socket could not open, in words (listeners and the admin listener).

/** "address already in use" rather than node's "listen EADDRINUSE: address already in use 0.0.0.0:80". */
export function socketReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'EADDRINUSE':
      return 'address already in use';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    case 'EADDRNOTAVAIL':
      return 'address not available on this machine';
    default:
      return e?.message ?? String(err);
  }
}
