// The resource documents tests write again and again, as YAML text. Each is one
// document with a leading `---`, so they concatenate; a caller's body is given
// unindented and indented here, so it reads as it will stand in the document.
const indent = (text: string, by: number): string => text.replace(/^(?=.)/gm, ' '.repeat(by));

/** A backendRef to a Backend, as YAML flow. */
export function beRef(name: string, weight?: number): string {
  return `{ group: gateway.envoyproxy.io, kind: Backend, name: ${name}${weight !== undefined ? `, weight: ${weight}` : ''} }`;
}

/** Gateway default/gw of class portcullis (or as named) with these listeners, each a YAML flow mapping. */
export function gatewayDoc(listeners: string[], opts: { name?: string; className?: string } = {}): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: ${opts.name ?? 'gw'}, namespace: default }
spec:
  gatewayClassName: ${opts.className ?? 'portcullis'}
  listeners:
${listeners.map((l) => `    - ${l}\n`).join('')}`;
}

/** An HTTP listener (a flow mapping for gatewayDoc). */
export function httpListener(port: number, name = 'http'): string {
  return `{ name: ${name}, protocol: HTTP, port: ${port} }`;
}

/** An HTTPS listener terminating with Secret `secret` (a flow mapping for gatewayDoc). */
export function httpsListener(name: string, port: number, secret = 'cert'): string {
  return `{ name: ${name}, protocol: HTTPS, port: ${port}, tls: { certificateRefs: [{ name: ${secret} }] } }`;
}

/** Secret default/`name` of type kubernetes.io/tls with a certificate and its key (PEM). */
export function tlsSecretYaml(name: string, cert: { certPem: string; keyPem: string }): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `---
apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: default }
type: kubernetes.io/tls
data: { tls.crt: ${b64(cert.certPem)}, tls.key: ${b64(cert.keyPem)} }
`;
}

/** A Backend over 127.0.0.1 ports; `extra` adds spec lines (two-space indented). */
export function backendYaml(name: string, ports: number[], extra = '', labels?: Record<string, string>): string {
  const meta = labels ? `, labels: { ${Object.entries(labels).map(([k, v]) => `${k}: ${v}`).join(', ')} }` : '';
  return `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: ${name}, namespace: default${meta} }
spec:
  endpoints: [${ports.map((p) => `{ ip: { address: 127.0.0.1, port: ${p} } }`).join(', ')}]
${extra}`;
}

/** Service `name` (port 3000 unless given) with one EndpointSlice per 127.0.0.1 port, as kube-proxy-less YAML. */
export function serviceYaml(name: string, replicas: readonly { port: number }[], port = 3000): string {
  const slices = replicas.map((r, i) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-${i}, namespace: default, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports: [{ name: http, port: ${r.port} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true } }]
`).join('');
  return `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec: { ports: [{ name: http, port: ${port}, targetPort: ${port} }] }
${slices}`;
}

export interface RouteOptions {
  kind?: 'HTTPRoute' | 'GRPCRoute';
  /** The Gateway it attaches to (default gw). */
  parent?: string;
  hostnames?: string[];
}

/**
 * HTTPRoute (or GRPCRoute) default/`name` on Gateway gw; `rules` are its rule
 * list items (`- matches: …` lines, unindented).
 */
export function routeYaml(name: string, rules: string, opts: RouteOptions = {}): string {
  const hosts = opts.hostnames ? `  hostnames: [${opts.hostnames.map((h) => JSON.stringify(h)).join(', ')}]\n` : '';
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: ${opts.kind ?? 'HTTPRoute'}
metadata: { name: ${name}, namespace: default }
spec:
  parentRefs: [{ name: ${opts.parent ?? 'gw'} }]
${hosts}  rules:
${indent(rules.trimEnd(), 4)}
`;
}

/** One rule of a route: PathPrefix `path` to Backend `backend` (a list item for routeYaml). */
export function prefixRule(path: string, backend: string): string {
  return `- { matches: [{ path: { type: PathPrefix, value: ${path} } }], backendRefs: [${beRef(backend)}] }`;
}

/** HTTPRoute `name` on Gateway gw: PathPrefix /<name> → Backend `be`; `extra` adds fields to the rule (two-space indented). */
export function prefixRouteYaml(name: string, be: string, extra = ''): string {
  return routeYaml(name, `- matches: [{ path: { type: PathPrefix, value: /${name} } }]
  backendRefs: [${beRef(be)}]
${extra}`);
}

/**
 * An Istio policy of `kind` (AuthorizationPolicy, RequestAuthentication…) named
 * "<namespace>/<name>", selecting workloads by one `label` ("app: httpbin");
 * `body` is the rest of its spec, unindented.
 */
export function istioSelectorYaml(kind: string, at: string, label: string, body: string): string {
  const [namespace, name] = at.split('/');
  return `---
apiVersion: security.istio.io/v1
kind: ${kind}
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  selector:
    matchLabels:
      ${label}
${indent(body.trimEnd(), 2)}
`;
}

const ISTIO_KINDS = new Set(['AuthorizationPolicy', 'RequestAuthentication', 'PeerAuthentication']);

/**
 * A policy (Envoy Gateway's, or Istio's by kind) default/`name` attached by
 * targetRefs to `target` ("HTTPRoute/r", "Gateway/gw", or a listener of it:
 * "Gateway/gw/https"); `body` is the rest of its spec, unindented.
 */
export function policyYaml(kind: string, name: string, target: string, body: string): string {
  const [targetKind, targetName, section] = target.split('/');
  const apiVersion = ISTIO_KINDS.has(kind) ? 'security.istio.io/v1' : 'gateway.envoyproxy.io/v1alpha1';
  return `---
apiVersion: ${apiVersion}
kind: ${kind}
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: ${targetKind}, name: ${targetName}${section ? `, sectionName: ${section}` : ''} }]
${indent(body.trimEnd(), 2)}
`;
}

/** BackendTrafficPolicy `name` on HTTPRoute `name`, with `body` as its spec fields. */
export function routePolicyYaml(name: string, body: string): string {
  return policyYaml('BackendTrafficPolicy', name, `HTTPRoute/${name}`, body);
}
