// healthCheck.active: HTTP, TCP and gRPC (grpc-health-probe.ts) probes of every replica, every interval,
// their verdicts written into the route backend's HealthState
// (src/state/health.ts), which its balancers read.
//
// One checker per health state (policy, route rule, backend), shared by the
// snapshots that use it: a reload acquires it again before the old snapshot
// releases it, so the probes and their counts carry on; a changed check
// (another path, interval...) restarts the timer with the new settings and
// keeps the verdicts. The last release (the snapshot's close, or shutdown)
// stops the timer; the timer is unref'd, so it never holds a process open.
// With --workers N each worker probes (docs/state.md: N small requests per
// interval per replica, against the cost of shipping verdicts over IPC).
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { IRBackend, IREndpoint } from '../ir/types.ts';
import type { IRActiveHealth } from '../ir/traffic.ts';
import type { HealthState } from '../state/health.ts';
import { grpcProbe } from './grpc-health-probe.ts';

const MAX_BODY = 64 * 1024;

interface Checker {
  refs: number;
  fingerprint: string;
  cfg: IRActiveHealth;
  backend: IRBackend;
  endpoints: IREndpoint[];
  timer: NodeJS.Timeout | undefined;
  running: boolean;
  stopped: boolean;
}

const checkers = new Map<string, Checker>();

function address(ep: IREndpoint): string {
  return ep.host.includes(':') ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`;
}

/** Start (or share) the active checks of a health state; the returned function releases them. */
export function acquireActiveCheck(state: HealthState, cfg: IRActiveHealth, backend: IRBackend, endpoints: IREndpoint[]): () => void {
  const fingerprint = JSON.stringify([cfg, backend.tls ?? null, endpoints.map(address)]);
  let c = checkers.get(state.key);
  if (c && c.fingerprint !== fingerprint) {
    c.fingerprint = fingerprint;
    c.cfg = cfg;
    c.backend = backend;
    c.endpoints = endpoints;
    clearTimeout(c.timer);
    c.timer = undefined;
    if (!c.running) schedule(state, c, 0);
  }
  if (!c) {
    c = { refs: 0, fingerprint, cfg, backend, endpoints, timer: undefined, running: false, stopped: false };
    checkers.set(state.key, c);
    schedule(state, c, cfg.initialJitterMs > 0 ? Math.random() * cfg.initialJitterMs : 0);
  }
  c.refs++;
  const checker = c;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--checker.refs > 0) return;
    checker.stopped = true;
    clearTimeout(checker.timer);
    checker.timer = undefined;
    if (checkers.get(state.key) === checker) checkers.delete(state.key);
  };
}

function schedule(state: HealthState, c: Checker, ms: number): void {
  if (c.stopped) return;
  c.timer = setTimeout(() => void round(state, c), ms);
  c.timer.unref();
}

async function round(state: HealthState, c: Checker): Promise<void> {
  c.timer = undefined;
  c.running = true;
  const cfg = c.cfg;
  try {
    await Promise.all(c.endpoints.map(async (ep) => {
      const ok = await probe(cfg, c.backend, ep);
      if (c.stopped) return;
      const r = state.get(address(ep));
      if (r) state.reportProbe(r, ok, cfg.healthyThreshold, cfg.unhealthyThreshold);
    }));
  } finally {
    c.running = false;
    if (!c.timer) schedule(state, c, c.cfg.intervalMs);
  }
}

/** One probe: true when the replica answered as the check expects within its timeout. */
export function probe(cfg: IRActiveHealth, backend: IRBackend, ep: IREndpoint): Promise<boolean> {
  if (cfg.type === 'GRPC') return verdict(cfg.timeoutMs, (done) => grpcProbe(cfg.grpc?.service ?? '', backend, ep, done));
  return cfg.type === 'TCP' ? tcpProbe(cfg, backend, ep) : httpProbe(cfg, backend, ep);
}

/** Run one probe to its verdict: the first done() wins, the timeout says false, the socket is destroyed either way. */
function verdict(timeoutMs: number, run: (done: (ok: boolean) => void) => { destroy(): void }): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    let handle: { destroy(): void } | undefined;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      handle?.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    handle = run(done);
    if (settled) handle.destroy();
  });
}

/** Bytes as they arrive: true once they contain `want`, false past MAX_BODY. */
function expecting(want: Buffer, done: (ok: boolean) => void): (chunk: Buffer) => void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  return (chunk) => {
    chunks.push(chunk);
    bytes += chunk.length;
    if (Buffer.concat(chunks, bytes).includes(want)) done(true);
    else if (bytes > MAX_BODY) done(false);
  };
}

function httpProbe(cfg: IRActiveHealth, backend: IRBackend, ep: IREndpoint): Promise<boolean> {
  const h = cfg.http!;
  return verdict(cfg.timeoutMs, (done) => {
    const lib = backend.tls ? https : http;
    const req = lib.request({
      host: ep.host,
      port: ep.port,
      method: h.method,
      path: h.path,
      agent: false,
      headers: { host: h.hostname ?? ep.host, 'user-agent': 'portcullis-health-check' },
      servername: backend.tls?.sni,
      rejectUnauthorized: backend.tls ? !backend.tls.insecureSkipVerify : undefined,
      ca: backend.tls?.caPem,
    }, (res) => {
      if (!h.expectedStatuses.includes(res.statusCode ?? 0)) return done(false);
      const want = h.expectedResponse;
      if (!want) return done(true);
      res.on('data', expecting(want, done));
      res.on('end', () => done(false));
      res.on('error', () => done(false));
    });
    req.on('error', () => done(false));
    req.end();
    return req;
  });
}

function tcpProbe(cfg: IRActiveHealth, backend: IRBackend, ep: IREndpoint): Promise<boolean> {
  const t = cfg.tcp ?? {};
  return verdict(cfg.timeoutMs, (done) => {
    const onConnect = (): void => {
      if (t.send) sock.write(t.send);
      if (!t.receive) done(true);
    };
    const sock: net.Socket = backend.tls
      ? tls.connect({ host: ep.host, port: ep.port, servername: backend.tls.sni, rejectUnauthorized: !backend.tls.insecureSkipVerify, ca: backend.tls.caPem }, onConnect)
      : net.connect({ host: ep.host, port: ep.port }, onConnect);
    if (t.receive) {
      sock.on('data', expecting(t.receive, done));
      sock.on('end', () => done(false));
    }
    sock.on('error', () => done(false));
    return sock;
  });
}

/** Checkers running (tests: none is left after shutdown). */
export function activeCheckCount(): number {
  return checkers.size;
}
