import net from 'node:net';
import { readFileSync } from 'node:fs';

// A port the test can give to a Gateway listener before the gateway binds it.
// Binding :0 and closing is racy: the kernel hands the same port out again as
// the local port of any outgoing connection or any other `listen(0)` of the
// concurrent test files (CI lost a run to that). So ports come from below the
// kernel's ephemeral range, where nothing is handed out implicitly, from a
// slice chosen by pid so that concurrent test processes start apart, and each
// one is checked by a real bind before it is returned.

const EPHEMERAL_LOW = ephemeralLow();
const LOW = 10_000;
const SPAN = EPHEMERAL_LOW - LOW;
const SLICE = 400;
let next = LOW + ((process.pid * SLICE) % SPAN);

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port outside the ephemeral range, free when checked and never returned twice by this process. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < SPAN; tries++) {
    const port = next;
    next = next + 1 >= EPHEMERAL_LOW ? LOW : next + 1;
    if (await bindable(port, host)) return port;
  }
  throw new Error('no free port below the ephemeral range');
}
