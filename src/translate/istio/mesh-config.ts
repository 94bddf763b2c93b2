// Istio's mesh config, as far as authorization needs it: the ConfigMap `istio`
// in the root namespace, key `mesh` (YAML): extensionProviders — the external
// authorization services that AuthorizationPolicy CUSTOM names —,
// pathNormalization (what the policies match paths against), rootNamespace and
// defaultConfig.gatewayTopology.numTrustedProxies.
//
// Only envoyExtAuthzHttp and envoyExtAuthzGrpc are read. Other provider kinds
// (tracing, access log, metrics) are telemetry, not this parser's business:
// their names are remembered so a CUSTOM policy naming one gets a clear error.
// Other top-level mesh fields are left to whoever implements them.
// A provider with an error is kept as "invalid" rather than dropped: like
// Istio, a CUSTOM policy that uses it then denies the requests it matches.
import { LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { ConfigError } from '../../resources/errors.ts';
import { formatPath } from '../../resources/errors.ts';
import type { LoadedResource } from '../../resources/types.ts';
import { resourceKey } from '../../resources/types.ts';
import type { StringPattern } from '../../authz/string-match.ts';
import type { ExtAuthzConfig, ExtAuthzEndpoint } from '../../authz/ext-authz/types.ts';
import type { ExtAuthzBody } from '../../ir/ext-authz.ts';
import type { PathNormalization } from '../../ir/types.ts';

/** Istio's default for a provider without timeout. */
export const DEFAULT_EXT_AUTHZ_TIMEOUT_MS = 600_000;

export interface MeshExtAuthzProvider {
  name: string;
  kind: 'envoyExtAuthzHttp' | 'envoyExtAuthzGrpc';
  /** As written: "<host>", "<namespace>/<host>", or a plain host/IP. */
  service: string;
  port: number;
  timeoutMs: number;
  failOpen: boolean;
  statusOnError: number;
  /** includeRequestBodyInCheck: the check carries the body (read before the decision). */
  includeBody?: ExtAuthzBody;
  /** HTTP only. */
  pathPrefix: string;
  includeRequestHeadersInCheck: string[];
  includeAdditionalHeadersInCheck: { name: string; value: string }[];
  headersToUpstreamOnAllow: string[];
  headersToDownstreamOnDeny: string[];
  headersToDownstreamOnAllow: string[];
}

export interface MeshProviders {
  /** mesh.rootNamespace when the mesh config sets it. */
  rootNamespace?: string;
  /** defaultConfig.gatewayTopology.numTrustedProxies: X-Forwarded-For hops to trust. */
  numTrustedProxies?: number;
  /** pathNormalization.normalization (DEFAULT read as BASE). */
  pathNormalization?: PathNormalization;
  /** Valid ext_authz providers by name. */
  providers: Map<string, MeshExtAuthzProvider>;
  /** Providers that exist but cannot be used (the reason), by name. */
  invalid: Map<string, string>;
  /** Non-authorization providers (tracing, logging…), by name. */
  others: Set<string>;
}

/**
 * Resolves a provider's service to endpoints: a "*.svc.cluster.local" name (or
 * "<namespace>/<host>") through the Services/EndpointSlices of the
 * configuration, anything else as host:port directly. undefined = unknown.
 */
export type ServiceResolver = (service: string, port: number) => ExtAuthzEndpoint[] | undefined;

export function emptyMeshProviders(): MeshProviders {
  return { providers: new Map(), invalid: new Map(), others: new Set() };
}

/** The mesh ConfigMap: `istio` in the root namespace. */
export function findMeshConfigMap(resources: LoadedResource[], rootNamespace: string): LoadedResource | undefined {
  return resources.find(
    (r) => r.resource.kind === 'ConfigMap' && r.resource.metadata.name === 'istio' && (r.resource.metadata.namespace ?? 'default') === rootNamespace,
  );
}

const HTTP_FIELDS = new Set([
  'service', 'port', 'timeout', 'pathPrefix', 'failOpen', 'clearRouteCache', 'statusOnError',
  'includeRequestHeadersInCheck', 'includeHeadersInCheck', 'includeAdditionalHeadersInCheck',
  'includeRequestBodyInCheck', 'headersToUpstreamOnAllow', 'headersToDownstreamOnDeny', 'headersToDownstreamOnAllow',
]);
const GRPC_FIELDS = new Set(['service', 'port', 'timeout', 'failOpen', 'clearRouteCache', 'statusOnError', 'includeRequestBodyInCheck']);

const NORMALIZATIONS: Record<string, PathNormalization> = {
  DEFAULT: 'BASE', NONE: 'NONE', BASE: 'BASE', MERGE_SLASHES: 'MERGE_SLASHES', DECODE_AND_MERGE_SLASHES: 'DECODE_AND_MERGE_SLASHES',
};

/**
 * Parses the mesh ConfigMap (absent = no providers). `fatal` holds the errors
 * no request may be served with: a mesh text that cannot be read, or a
 * pathNormalization that cannot be honoured, must not quietly become BASE under
 * a DENY list written for a stricter mode. A broken provider is only `errors`:
 * the CUSTOM policies that name it deny what they match.
 */
export function parseMeshConfig(configMap: LoadedResource | undefined): { mesh: MeshProviders; errors: ConfigError[]; fatal: ConfigError[] } {
  const mesh = emptyMeshProviders();
  const errors: ConfigError[] = [];
  const fatal: ConfigError[] = [];
  if (!configMap) return { mesh, errors, fatal };
  const cm = configMap.resource;
  const object = resourceKey(cm);
  const source = configMap.source;
  const meshLine = source?.lineOf?.(['data', 'mesh']) ?? source?.line;
  const text = cm.data?.mesh;
  if (text === undefined) return { mesh, errors, fatal };
  if (typeof text !== 'string') {
    fatal.push({ object, path: 'data.mesh', message: 'must be a string of YAML', source, line: meshLine });
    return { mesh, errors, fatal };
  }

  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const lineIn = (path: (string | number)[]): number | undefined => {
    const node = doc.getIn(path, true) as YamlNode | undefined;
    const range = node?.range;
    if (!range || meshLine === undefined) return meshLine;
    // The mesh text is a block scalar starting on the line after `mesh: |`.
    return meshLine + lines.linePos(range[0]).line;
  };
  // The field path inside the mesh text goes in the message: ConfigError.path is the resource's.
  const err = (path: (string | number)[], message: string, into: ConfigError[] = errors) =>
    into.push({ object, path: 'data.mesh', message: path.length ? `${formatPath(path)}: ${message}` : message, source, line: lineIn(path) });

  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      fatal.push({
        object, path: 'data.mesh', message: `invalid YAML: ${e.message.split('\n')[0]}`, source,
        line: meshLine !== undefined ? meshLine + (e.linePos?.[0]?.line ?? 1) : undefined,
      });
    }
    return { mesh, errors, fatal };
  }
  const root = doc.toJS() as unknown;
  if (root === null || root === undefined) return { mesh, errors, fatal };
  if (!isObject(root)) {
    fatal.push({ object, path: 'data.mesh', message: 'mesh config must be a map', source, line: meshLine });
    return { mesh, errors, fatal };
  }
  if (root.rootNamespace !== undefined) {
    if (typeof root.rootNamespace === 'string' && root.rootNamespace !== '') mesh.rootNamespace = root.rootNamespace;
    else err(['rootNamespace'], 'must be a non-empty string');
  }
  if (root.pathNormalization !== undefined) {
    const n = isObject(root.pathNormalization) ? root.pathNormalization.normalization : undefined;
    const mode = typeof n === 'string' ? NORMALIZATIONS[n] : undefined;
    if (mode) mesh.pathNormalization = mode;
    else {
      err(['pathNormalization', 'normalization'], `must be one of ${Object.keys(NORMALIZATIONS).join(', ')}`, fatal);
    }
  }
  const ntp = gatewayTopologyTrustedProxies(root.defaultConfig);
  if (ntp === null) err(['defaultConfig', 'gatewayTopology', 'numTrustedProxies'], 'must be a whole number from 0 to 64');
  else if (ntp !== undefined) mesh.numTrustedProxies = ntp;
  const list = root.extensionProviders;
  if (list === undefined || list === null) return { mesh, errors, fatal };
  if (!Array.isArray(list)) {
    err(['extensionProviders'], 'must be a list');
    return { mesh, errors, fatal };
  }

  list.forEach((entry, i) => {
    const at = ['extensionProviders', i];
    if (!isObject(entry)) {
      err(at, 'must be a map');
      return;
    }
    const name = entry.name;
    if (typeof name !== 'string' || name === '') {
      err([...at, 'name'], 'extension provider name must not be empty');
      return;
    }
    if (mesh.providers.has(name) || mesh.invalid.has(name) || mesh.others.has(name)) {
      err([...at, 'name'], `extension provider name must be unique, found duplicate: ${name}`);
      return;
    }
    const kinds = Object.keys(entry).filter((k) => k !== 'name');
    if (kinds.length !== 1) {
      const msg = kinds.length === 0 ? 'no provider configuration' : `exactly one provider kind expected, found ${kinds.join(', ')}`;
      err(at, msg);
      mesh.invalid.set(name, msg);
      return;
    }
    const kind = kinds[0];
    if (kind !== 'envoyExtAuthzHttp' && kind !== 'envoyExtAuthzGrpc') {
      mesh.others.add(name);
      return;
    }
    const before = errors.length;
    const provider = parseExtAuthz(name, kind, entry[kind], [...at, kind], err);
    if (provider && errors.length === before) mesh.providers.set(name, provider);
    else mesh.invalid.set(name, errors.slice(before).map((e) => e.message).join('; ') || 'invalid provider');
  });
  return { mesh, errors, fatal };
}

type Err = (path: (string | number)[], message: string) => void;

function parseExtAuthz(name: string, kind: MeshExtAuthzProvider['kind'], cfg: unknown, at: (string | number)[], err: Err): MeshExtAuthzProvider | undefined {
  if (!isObject(cfg)) {
    err(at, 'must be a map');
    return undefined;
  }
  const known = kind === 'envoyExtAuthzHttp' ? HTTP_FIELDS : GRPC_FIELDS;
  for (const k of Object.keys(cfg)) if (!known.has(k)) err([...at, k], 'unknown field');

  const p: MeshExtAuthzProvider = {
    name, kind, service: '', port: 0, timeoutMs: DEFAULT_EXT_AUTHZ_TIMEOUT_MS, failOpen: false, statusOnError: 403,
    pathPrefix: '', includeRequestHeadersInCheck: [], includeAdditionalHeadersInCheck: [],
    headersToUpstreamOnAllow: [], headersToDownstreamOnDeny: [], headersToDownstreamOnAllow: [],
  };

  if (typeof cfg.service !== 'string' || cfg.service === '') err([...at, 'service'], 'service must not be empty');
  else p.service = cfg.service;

  const port = typeof cfg.port === 'string' && /^[0-9]+$/.test(cfg.port) ? Number(cfg.port) : cfg.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    err([...at, 'port'], `port must be in the range [1, 65535], found: ${String(cfg.port)}`);
  } else p.port = port;

  if (cfg.timeout !== undefined) {
    const ms = parseDuration(cfg.timeout);
    if (ms === undefined || ms <= 0) err([...at, 'timeout'], `invalid duration ${JSON.stringify(cfg.timeout)} (e.g. "0.5s", "2s")`);
    else p.timeoutMs = ms;
  }
  if (cfg.failOpen !== undefined) {
    if (typeof cfg.failOpen !== 'boolean') err([...at, 'failOpen'], 'must be true or false');
    else p.failOpen = cfg.failOpen;
  }
  if (cfg.clearRouteCache !== undefined && cfg.clearRouteCache !== false) {
    // Routing has happened by the time authorization runs; re-routing on header changes is not implemented.
    err([...at, 'clearRouteCache'], 'clearRouteCache is not supported by Portcullis');
  }
  if (cfg.statusOnError !== undefined) {
    const s = typeof cfg.statusOnError === 'number' ? String(cfg.statusOnError) : cfg.statusOnError;
    if (typeof s !== 'string' || !/^[0-9]{3}$/.test(s) || Number(s) < 100 || Number(s) > 599) {
      err([...at, 'statusOnError'], `invalid statusOnError ${JSON.stringify(cfg.statusOnError)}: must be an HTTP status code`);
    } else p.statusOnError = Number(s);
  }
  if (cfg.includeRequestBodyInCheck !== undefined && cfg.includeRequestBodyInCheck !== null) {
    const b = cfg.includeRequestBodyInCheck;
    const bat = [...at, 'includeRequestBodyInCheck'];
    if (!isObject(b)) err(bat, 'must be an object with maxRequestBytes, allowPartialMessage, packAsBytes');
    else {
      const unknown = Object.keys(b).filter((k) => !['maxRequestBytes', 'allowPartialMessage', 'packAsBytes'].includes(k));
      const max = b.maxRequestBytes;
      if (unknown.length > 0) err([...bat, unknown[0]], 'unknown field');
      else if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 0xffffffff) err([...bat, 'maxRequestBytes'], 'must be a whole number of bytes, at least 1 (Envoy holds at most this much of the body)');
      else if (b.allowPartialMessage !== undefined && typeof b.allowPartialMessage !== 'boolean') err([...bat, 'allowPartialMessage'], 'must be true or false');
      else if (b.packAsBytes !== undefined && typeof b.packAsBytes !== 'boolean') err([...bat, 'packAsBytes'], 'must be true or false');
      else p.includeBody = { maxBytes: max, allowPartial: b.allowPartialMessage === true, packAsBytes: b.packAsBytes === true };
    }
  }

  if (kind === 'envoyExtAuthzHttp') {
    if (cfg.pathPrefix !== undefined) {
      if (typeof cfg.pathPrefix !== 'string') err([...at, 'pathPrefix'], 'must be a string');
      else if (cfg.pathPrefix !== '' && !cfg.pathPrefix.startsWith('/')) err([...at, 'pathPrefix'], `pathPrefix must begin with \`/\`, found: "${cfg.pathPrefix}"`);
      else if (/[\s?#]/.test(cfg.pathPrefix)) err([...at, 'pathPrefix'], `invalid pathPrefix "${cfg.pathPrefix}"`);
      else p.pathPrefix = cfg.pathPrefix;
    }
    const headerList = (field: string): string[] => {
      const v = cfg[field];
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v)) {
        err([...at, field], 'must be a list of header names');
        return [];
      }
      const out: string[] = [];
      v.forEach((h, j) => {
        if (typeof h !== 'string' || h === '') err([...at, field, j], 'must be a non-empty header name');
        else if (h === '*') err([...at, field, j], 'a single wildcard ("*") is not supported, change it to either prefix or suffix match');
        else out.push(h);
      });
      return out;
    };
    const requestHeaders = headerList('includeRequestHeadersInCheck');
    // includeHeadersInCheck is deprecated; Istio reads it only when the new field is unset.
    const legacy = headerList('includeHeadersInCheck');
    p.includeRequestHeadersInCheck = requestHeaders.length > 0 ? requestHeaders : legacy;
    p.headersToUpstreamOnAllow = headerList('headersToUpstreamOnAllow');
    p.headersToDownstreamOnDeny = headerList('headersToDownstreamOnDeny');
    p.headersToDownstreamOnAllow = headerList('headersToDownstreamOnAllow');
    const extra = cfg.includeAdditionalHeadersInCheck;
    if (extra !== undefined && extra !== null) {
      if (!isObject(extra)) err([...at, 'includeAdditionalHeadersInCheck'], 'must be a map of header name to value');
      else {
        for (const k of Object.keys(extra).sort()) {
          const v = extra[k];
          if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(k)) err([...at, 'includeAdditionalHeadersInCheck', k], 'invalid header name');
          else if (typeof v !== 'string' || /[\r\n\0]/.test(v)) err([...at, 'includeAdditionalHeadersInCheck', k], 'header value must be a string without line breaks');
          else p.includeAdditionalHeadersInCheck.push({ name: k.toLowerCase(), value: v });
        }
      }
    }
  }
  return p;
}

/** Protobuf JSON durations ("1.5s") and Go-style ones ("500ms", "2s", "1m"); ms, or undefined. */
/**
 * gatewayTopology.numTrustedProxies from a proxy config (the mesh's defaultConfig,
 * or a Gateway's proxy.istio.io/config annotation). undefined = not set, null = invalid.
 */
export function gatewayTopologyTrustedProxies(proxyConfig: unknown): number | undefined | null {
  if (!isObject(proxyConfig) || !isObject(proxyConfig.gatewayTopology)) return undefined;
  const n = proxyConfig.gatewayTopology.numTrustedProxies;
  if (n === undefined) return undefined;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 64 ? n : null;
}

export function parseDuration(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const factor = m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 3_600_000;
  const ms = Math.round(n * factor);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Istio's header list syntax: "prefix*", "*suffix", else exact; compared case-insensitively. */
function headerPatterns(list: string[]): StringPattern[] {
  return list.map((h) => {
    if (h.startsWith('*')) return { kind: 'suffix', value: h.slice(1) };
    if (h.endsWith('*')) return { kind: 'prefix', value: h.slice(0, -1) };
    return { kind: 'exact', value: h };
  });
}

/**
 * The provider as an ext_authz client config, its service resolved to
 * endpoints; or the reason it cannot be used.
 */
export function resolveExtAuthzProvider(p: MeshExtAuthzProvider, resolve: ServiceResolver): ExtAuthzConfig | string {
  let endpoints: ExtAuthzEndpoint[] | undefined;
  try {
    endpoints = resolve(p.service, p.port);
  } catch {
    endpoints = undefined;
  }
  if (!endpoints || endpoints.length === 0) return `could not find service ${p.service} port ${p.port} for extension provider ${p.name}`;
  const common = { name: p.name, endpoints, timeoutMs: p.timeoutMs, failOpen: p.failOpen, statusOnError: p.statusOnError, ...(p.includeBody ? { includeBody: p.includeBody } : {}) };
  if (p.kind === 'envoyExtAuthzGrpc') return { protocol: 'grpc', ...common };
  return {
    protocol: 'http',
    ...common,
    pathPrefix: p.pathPrefix,
    allowedHeaders: headerPatterns(p.includeRequestHeadersInCheck),
    headersToAdd: p.includeAdditionalHeadersInCheck,
    allowedUpstreamHeaders: headerPatterns(p.headersToUpstreamOnAllow),
    allowedClientHeaders: headerPatterns(p.headersToDownstreamOnDeny),
    allowedClientHeadersOnSuccess: headerPatterns(p.headersToDownstreamOnAllow),
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
