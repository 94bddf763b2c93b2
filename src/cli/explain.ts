// `portcullis explain`: how a request would be routed and decided, offline.
// It builds the same snapshot `run` would, compiles the same filter chains,
// and runs them on a request described on the command line.
import { readFileSync } from 'node:fs';
import { parse, pathNormalization, UsageError } from './args.ts';
import { buildFromPaths } from '../config/pipeline.ts';
import { formatError } from '../resources/errors.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../translate/index.ts';
import { compileSnapshot, type Chain, type DataRoute } from '../dataplane/compile.ts';
import { filterRank } from '../ir/filter-order.ts';
import { PoolRegistry } from '../upstream/pools.ts';
import { decideBackend, decideGatewayHop, type DecidedRequest } from '../dataplane/decide.ts';
import { gatewayReply } from '../core/replies.ts';
import type { PathNormalization } from '../ir/types.ts';
import { peerRefusal, tlsFor } from './explain-peer.ts';

const HELP = `Usage: portcullis explain -f CONFIG [-f ...] --request 'METHOD URL [-H "Name: value"]...'
                         [--source-ip IP] [--peer-cert FILE] [--root-namespace NS]
                         [--path-normalization NONE|BASE|MERGE_SLASHES|DECODE_AND_MERGE_SLASHES]

Prints the route the request matches, the policies that apply on each hop,
each decision and the final answer, without starting a server. External
authorizers and remote JWKS named by the configuration are contacted as the
gateway would.

Example:
  portcullis explain -f config/ --request 'GET https://api.example.com/admin -H "Authorization: Bearer eyJ..."'
`;

export interface ParsedRequest {
  method: string;
  url: URL;
  /**
   * The path and query exactly as written: URL parsing would already resolve
   * "/a/../b" and "\\", and explain must normalize the way the gateway does.
   */
  target: string;
  headers: Record<string, string>;
}

/** Split a shell-like string: whitespace-separated, with '…' and "…" quoting. */
export function shellWords(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  let has = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (quote) throw new UsageError('unterminated quote in --request');
  if (has || cur) out.push(cur);
  return out;
}

export function parseRequestLine(text: string): ParsedRequest {
  const words = shellWords(text);
  if (words.length < 2) throw new UsageError('--request wants "METHOD URL [-H \'Name: value\']..."');
  const [method, rawUrl, ...rest] = words;
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new UsageError(`--request: "${rawUrl}" is not an absolute URL (http://host/path)`);
  }
  const headers: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] !== '-H' && rest[i] !== '--header') throw new UsageError(`--request: unexpected "${rest[i]}" (only -H "Name: value")`);
    const h = rest[++i] ?? '';
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`--request: header "${h}" wants "Name: value"`);
    const name = h.slice(0, colon).trim().toLowerCase();
    const value = h.slice(colon + 1).trim();
    headers[name] = headers[name] !== undefined ? `${headers[name]}, ${value}` : value;
  }
  const target = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\\]*([^#]*)/i.exec(rawUrl)?.[1] || '/';
  return { method: method.toUpperCase(), url, target, headers };
}

export async function explainCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parse(argv, {
      file: { type: 'string', short: 'f', multiple: true },
      request: { type: 'string', short: 'r' },
      'source-ip': { type: 'string', default: '127.0.0.1' },
      'peer-cert': { type: 'string' },
      'root-namespace': { type: 'string', default: 'istio-system' },
      'path-normalization': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    }));
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (!values.file?.length || !values.request) throw new UsageError('give -f and --request');
    const req = parseRequestLine(values.request);
    const out = await explain(values.file, req, {
      sourceIp: values['source-ip']!,
      peerCertPem: values['peer-cert'] ? readFileSync(values['peer-cert'], 'utf8') : undefined,
      rootNamespace: values['root-namespace']!,
      pathNormalization: pathNormalization(values['path-normalization']),
    });
    process.stdout.write(out.text);
    return out.code;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`portcullis explain: ${err.message}\n\n${HELP}`);
      return 2;
    }
    throw err;
  }
}

export interface ExplainOptions {
  sourceIp: string;
  peerCertPem?: string;
  rootNamespace: string;
  /** As --path-normalization: undefined = the mesh config's, else BASE. */
  pathNormalization?: PathNormalization;
}

/** The explanation as text, and 0 when the request would be allowed through, 3 when answered by the gateway. */
export async function explain(files: string[], req: ParsedRequest, o: ExplainOptions): Promise<{ text: string; code: number }> {
  const lines: string[] = [];
  const say = (s: string) => lines.push(s);
  const built = await buildFromPaths(files, { ...DEFAULT_TRANSLATE_OPTIONS, rootNamespace: o.rootNamespace, pathNormalization: o.pathNormalization });
  if (!built.snapshot) {
    for (const e of built.errors) say(`error: ${formatError(e)}`);
    say('the configuration has errors; nothing to explain');
    return { text: lines.join('\n') + '\n', code: 1 };
  }
  const pools = new PoolRegistry();
  const snap = await compileSnapshot(built.snapshot, pools);
  try {
    const scheme = req.url.protocol === 'https:' ? 'https' : 'http';
    const port = req.url.port ? Number(req.url.port) : scheme === 'https' ? 443 : 80;
    say(`request: ${req.method} ${req.url.protocol}//${req.url.host}${req.target}`);
    // Names only: values may be credentials.
    const names = Object.keys(req.headers);
    if (names.length > 0) say(`headers: ${names.join(', ')}`);
    const listener = snap.listeners.get(port);
    if (!listener) {
      say(`listener: none on port ${port} (ports: ${[...snap.listeners.keys()].join(', ') || 'none'})`);
      say('answer: connection refused');
      return { text: lines.join('\n') + '\n', code: 3 };
    }
    const cv = listener.ir.tls?.clientValidation;
    const strict = cv?.mode === 'REQUIRE' ? ', client certificate required (STRICT mTLS)' : cv ? ', client certificate verified when sent' : '';
    say(`listener: port ${port} ${listener.ir.protocol} (${listener.ir.sections.map((s) => `Gateway/${s.gateway.namespace}/${s.gateway.name}/${s.name}`).join(', ')})${strict}`);
    const tls = scheme === 'https' ? tlsFor(o.peerCertPem, cv?.caPem, req.url.hostname) : undefined;
    if (tls) {
      if (tls.peerIdentity) say(`peer: ${tls.peerIdentity.principal} (verified client certificate)`);
      else if (tls.peerVerified) say('peer: verified client certificate without a SPIFFE identity');
      else if (o.peerCertPem) say(`peer: ${cv ? 'certificate not verified by the trust bundle: no identity' : 'certificate not asked for by this listener: no identity'}`);
      else say('peer: no client certificate');
      if (cv?.mode === 'REQUIRE' && !tls.peerVerified) {
        say(`answer: TLS handshake refused (STRICT mTLS: ${o.peerCertPem ? 'the client certificate does not verify against the trust bundle' : 'no client certificate'}; curl prints 000)`);
        return { text: lines.join('\n') + '\n', code: 3 };
      }
      const refused = peerRefusal(listener.ir.tls?.clientValidation, tls, o.peerCertPem !== undefined);
      if (refused) {
        say(`answer: connection closed after the handshake (${refused}; curl prints 000)`);
        return { text: lines.join('\n') + '\n', code: 3 };
      }
    }
    // The same decision the listener makes, on the request described.
    const gatewayHop = await decideGatewayHop(listener, {
      method: req.method,
      target: req.target,
      headers: { host: req.url.host, ...req.headers },
      port,
      scheme,
      remoteIp: o.sourceIp,
      localIp: '127.0.0.1',
      tls,
      tracing: true,
      requestId: 'explain',
    });
    const rawPath = req.target.split('?')[0];
    if (gatewayHop.answer !== gatewayReply('badPath') && gatewayHop.path !== rawPath) say(`path: ${rawPath} normalized to ${gatewayHop.path} (${listener.ir.pathNormalization})`);
    if (gatewayHop.clientIp !== gatewayHop.remoteIp) say(`client: ${gatewayHop.clientIp} (X-Forwarded-For, ${listener.ir.xffTrustedHops} trusted proxy hop${listener.ir.xffTrustedHops > 1 ? 's' : ''}; peer ${gatewayHop.remoteIp})`);
    const route = gatewayHop.route;
    if (!route) {
      if (gatewayHop.answer === gatewayReply('noRoute')) say('route: none matches');
      return finish(lines, gatewayHop);
    }
    const gw = route.ir.section.gateway;
    const first = gatewayHop.reroutedFrom;
    if (first) {
      // recomputeRoute: the first route's chain ran up to the filter that re-routed, the new route's from there on.
      say(`route: ${routeName(first)}`);
      say(`gateway hop (Gateway/${gw.namespace}/${gw.name}): ${describeChain(first.chain)}`);
      say(`rerouted: ${routeName(route)} (match ${gatewayHop.match!.path.type} ${gatewayHop.match!.path.value}; recomputeRoute matched again with the headers the filters set)`);
      const rank = filterRank(first.chain.request[first.chain.reroute!.at].type);
      const rest = route.chain.request.filter((f) => filterRank(f.type) > rank);
      say(`  its filters after the re-route: ${describeChain({ ...route.chain, request: rest })}`);
    } else {
      say(`route: ${routeName(route)} (match ${gatewayHop.match!.path.type} ${gatewayHop.match!.path.value})`);
      say(`gateway hop (Gateway/${gw.namespace}/${gw.name}): ${describeChain(route.chain)}`);
    }
    if (gatewayHop.answer) {
      const a = route.action;
      const what = gatewayHop.error !== undefined || gatewayHop.replyChains.length === 0 ? undefined : a.type === 'redirect' && gatewayHop.answer.status === a.statusCode ? 'redirect' : a.type === 'direct' && gatewayHop.answer === a.reply ? 'direct response' : undefined;
      return finish(lines, gatewayHop, what);
    }
    const a = route.action;
    if (a.type !== 'proxy') throw new Error('unreachable: a non-proxy action always answers');
    // Every backend the split may pick is its own destination hop: explain each.
    const answers: string[] = [];
    for (const b of a.backends) {
      const share = a.totalWeight > 0 ? Math.round((100 * b.weight) / a.totalWeight) : 0;
      say(`backend: ${b.cluster?.id ?? '(invalid reference → 500)'} (weight ${b.weight}, ${share}%)`);
      if (b.cluster) say(`  destination hop: ${describeChain(b.chain)}`);
      const d = await decideBackend(fromGatewayHop(gatewayHop), b);
      const answer = d.answer
        ? describeAnswer(d, d.answeredOn === 'destination' ? 'answered by the gateway on the destination hop' : undefined)
        : `proxied to ${b.cluster!.id.replace(/:\d+$/, '')} at ${b.cluster!.ir.endpoints.map((e) => `${e.host}:${e.port}`).join(', ') || '(no endpoint → 503)'}`;
      say(`  answer on this backend: ${answer}`);
      answers.push(answer);
    }
    printTrace(lines, gatewayHop);
    const allSame = answers.every((x) => x === answers[0]);
    say(`answer: ${allSame ? answers[0] : 'depends on the backend the split picks (see each backend above)'}`);
    return { text: lines.join('\n') + '\n', code: answers.every((x) => x.startsWith('proxied')) ? 0 : 3 };
  } finally {
    snap.close();
    await pools.closeAll();
  }
}

/**
 * Each backend of a split is explained from the same gateway-hop state (its
 * own headers and identity; the trace is shared, so every hop's decisions print).
 */
function fromGatewayHop(gatewayHop: DecidedRequest): DecidedRequest {
  return Object.assign(Object.create(Object.getPrototypeOf(gatewayHop)) as DecidedRequest, gatewayHop, { headers: { ...gatewayHop.headers }, identity: { ...gatewayHop.identity } });
}

function describeAnswer(d: DecidedRequest, what = 'answered by the gateway'): string {
  const r = d.answer!;
  if (d.error !== undefined) return `${r.status} (internal error: ${(d.error as Error)?.message ?? String(d.error)})`;
  return `${r.status} (${what})${r.body ? ` ${JSON.stringify(r.body.trim())}` : ''}`;
}

function routeName(route: DataRoute): string {
  return `${route.ir.route.kind}/${route.ir.route.namespace}/${route.ir.route.name} rule ${route.ir.route.rule}`;
}

/** The filters of one hop, with the policies each came from. */
function describeChain(chain: Chain): string {
  if (chain.request.length === 0) return 'no filters';
  return chain.request.map((f) => `${f.type} [${f.origin}]`).join(' → ');
}

function finish(lines: string[], d: DecidedRequest, what?: string): { text: string; code: number } {
  printTrace(lines, d);
  lines.push(`answer: ${describeAnswer(d, what)}`);
  return { text: lines.join('\n') + '\n', code: 3 };
}

function printTrace(lines: string[], ctx: DecidedRequest): void {
  if (!ctx.trace || ctx.trace.length === 0) return;
  lines.push('decisions:');
  for (const t of ctx.trace) lines.push(`  ${t.decision.padEnd(8)} ${t.filter}${t.origin ? ` [${t.origin}]` : ''}: ${t.reason}`);
}
