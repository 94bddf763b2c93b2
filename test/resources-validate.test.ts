// Tests for the resource schemas and validateResource: upstream examples of
// every kind pass; bad input of every sort gets exactly one issue at the
// field it is about, with a message a person can act on; hostile input
// neither crashes nor hangs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse, parseAllDocuments } from 'yaml';
import { validateResource, type ValidationIssue } from '../src/resources/validate.ts';
import { KINDS, findKind, findKindByPlural, apiVersionOf } from '../src/resources/kinds/index.ts';

// Valid resources of every kind, taken from (or closely following) the
// upstream documentation: Gateway API guides and conformance manifests,
// Envoy Gateway tasks, istio/api reference examples, Kubernetes docs.
const VALID_EXAMPLES = `
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: example-class
spec:
  controllerName: example.com/gateway-controller
  description: The example class
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: example-gateway
  namespace: default
spec:
  gatewayClassName: example-class
  listeners:
  - name: http
    protocol: HTTP
    port: 80
  - name: https
    protocol: HTTPS
    port: 443
    hostname: "*.example.com"
    tls:
      mode: Terminate
      certificateRefs:
      - kind: Secret
        group: ""
        name: example-com-cert
    allowedRoutes:
      namespaces:
        from: Selector
        selector:
          matchLabels:
            shared-gateway-access: "true"
          matchExpressions:
          - key: env
            operator: In
            values: [prod, staging]
      kinds:
      - kind: HTTPRoute
  addresses:
  - type: IPAddress
    value: 192.0.2.10
  infrastructure:
    labels:
      team: edge
    annotations:
      example.com/owner: edge-team
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: foo-route
  namespace: default
  labels:
    gateway: example-gateway
spec:
  parentRefs:
  - name: example-gateway
    sectionName: https
  hostnames:
  - "foo.example.com"
  rules:
  - name: login
    matches:
    - path:
        type: PathPrefix
        value: /login
    backendRefs:
    - name: foo-svc
      port: 8080
  - matches:
    - headers:
      - type: Exact
        name: env
        value: canary
      queryParams:
      - name: debug
        value: "1"
      method: GET
    - path:
        type: RegularExpression
        value: "^/v[0-9]+/users/[^/]+$"
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set:
        - name: x-env
          value: canary
        add:
        - name: x-trace
          value: "on"
        remove: ["x-debug"]
    - type: CORS
      cors:
        allowOrigins:
        - "https://www.foo.com"
        - "https://*.foobar.com"
        allowMethods: [GET, POST, OPTIONS]
        allowHeaders: [x-header-1]
        exposeHeaders: [x-header-3]
        allowCredentials: true
        maxAge: 3600
    backendRefs:
    - name: foo-svc-canary
      port: 8080
      weight: 90
    - name: foo-svc-canary-2
      port: 8080
      weight: 10
      filters:
      - type: ResponseHeaderModifier
        responseHeaderModifier:
          add:
          - name: x-backend
            value: two
    timeouts:
      request: 10s
      backendRequest: 2s
    retry:
      codes: [500, 502, 503]
      attempts: 2
      backoff: 100ms
  - matches:
    - path:
        type: PathPrefix
        value: /old
    filters:
    - type: URLRewrite
      urlRewrite:
        hostname: new.example.com
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /new
    - type: RequestMirror
      requestMirror:
        backendRef:
          name: mirror-svc
          port: 8080
        fraction:
          numerator: 5
          denominator: 1000
    backendRefs:
    - name: foo-svc
      port: 8080
    sessionPersistence:
      sessionName: session
      type: Cookie
      absoluteTimeout: 1h
      cookieConfig:
        lifetimeType: Permanent
  - matches:
    - path:
        type: Exact
        value: /redirect
    filters:
    - type: RequestRedirect
      requestRedirect:
        scheme: https
        hostname: secure.example.com
        statusCode: 301
        port: 443
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata:
  name: backend-kinds
spec:
  parentRefs:
  - name: example-gateway
    port: 443
  - group: ""
    kind: Service
    name: echo
  rules:
  - backendRefs:
    - group: gateway.envoyproxy.io
      kind: Backend
      name: backend-fqdn
    filters:
    - type: ExtensionRef
      extensionRef:
        group: gateway.envoyproxy.io
        kind: HTTPRouteFilter
        name: direct-response
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  name: foo-grpc
spec:
  parentRefs:
  - name: example-gateway
  hostnames:
  - "foo.example.com"
  rules:
  - matches:
    - method:
        service: com.example.User
        method: Login
    backendRefs:
    - name: foo-svc
      port: 50051
  - matches:
    - headers:
      - type: Exact
        name: magic
        value: foo
      method:
        service: com.Example.Login
        method: Login
    - method:
        type: RegularExpression
        service: "com\\\\.example\\\\..*"
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        add:
        - name: my-header
          value: foo
    backendRefs:
    - name: foo-svc-v2
      port: 50051
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata:
  name: allow-ns1-gateways-to-ref-secrets
  namespace: default
spec:
  from:
  - group: gateway.networking.k8s.io
    kind: Gateway
    namespace: ns1
  to:
  - group: ""
    kind: Secret
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata:
  name: policy-httproute
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: http-ratelimit
  rateLimit:
    type: Global
    global:
      rules:
      - clientSelectors:
        - headers:
          - type: Distinct
            name: x-user-id
          sourceCIDR:
            type: Distinct
            value: 0.0.0.0/0
        limit:
          requests: 3
          unit: Hour
  circuitBreaker:
    maxPendingRequests: 0
    maxParallelRequests: 10
  faultInjection:
    abort:
      httpStatus: 501
      percentage: 50
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: jwt-cors-authz
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: backend
  cors:
    allowOrigins: ["http://*.foo.com", "https://www.example.com", "https://localhost:*", "*"]
    allowMethods: [GET, POST]
    allowHeaders: [x-header-1]
    exposeHeaders: [x-header-3]
    maxAge: 1h
    allowCredentials: true
  jwt:
    optional: false
    providers:
    - name: example
      issuer: https://foo.bar.com
      audiences: [foo.com]
      remoteJWKS:
        uri: https://raw.githubusercontent.com/envoyproxy/gateway/main/examples/kubernetes/jwt/jwks.json
        cacheDuration: 300s
      claimToHeaders:
      - header: x-sub
        claim: sub
      extractFrom:
        headers:
        - name: Authorization
          valuePrefix: "Bearer "
        params: [access_token]
  authorization:
    defaultAction: Deny
    rules:
    - name: allow
      action: Allow
      operation:
        methods: [GET]
      principal:
        clientCIDRs: [10.0.1.0/24]
        jwt:
          provider: example
          scopes: [read]
          claims:
          - name: user.roles
            valueType: StringArray
            values: [admin]
        headers:
        - name: x-user
          values: [alice]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: keys-basic-extauth
spec:
  targetSelectors:
  - kind: HTTPRoute
    matchLabels: { app: backend }
  apiKeyAuth:
    credentialRefs: [{ group: "", kind: Secret, name: apikey-secret }]
    extractFrom: [{ headers: [x-api-key] }, { params: [key] }, { cookies: [k] }]
    forwardClientIDHeader: x-client-id
    sanitize: true
  basicAuth:
    users: { name: basic-auth }
    forwardUsernameHeader: x-user
  extAuth:
    http:
      backendRefs: [{ name: http-ext-auth, port: 9002 }]
      path: /check
      headersToBackend: [x-current-user]
    headersToExtAuth: [authorization]
    failOpen: false
    timeout: 2s
  portcullis:
    authentication: { mode: AnyOf }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: client-traffic
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: eg
    sectionName: https
  clientIPDetection:
    xForwardedFor:
      trustedCIDRs: [10.0.0.0/8]
  tls:
    minVersion: "1.2"
    clientValidation:
      optional: true
      caCertificateRefs: [{ kind: ConfigMap, group: "", name: ca }]
  headers:
    xForwardedClientCert: { mode: SanitizeSet, certDetailsToAdd: [Subject, URI] }
    withUnderscoresAction: RejectRequest
  timeout:
    http: { requestReceivedTimeout: 10s, idleTimeout: 5m }
  connection:
    connectionLimit: { value: 1000 }
    bufferLimit: 32Ki
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata:
  name: backend-fqdn
spec:
  endpoints:
  - fqdn:
      hostname: httpbin.org
      port: 443
  appProtocols: [gateway.envoyproxy.io/h2c]
  tls:
    insecureSkipVerify: true
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata:
  name: backend-ip-and-uds
spec:
  endpoints:
  - ip:
      address: 10.0.0.1
      port: 3001
  - unix:
      path: /var/run/backend.sock
  - ip:
      address: "2001:db8::1"
      port: 3001
    zone: zone-a
  fallback: false
  tls:
    wellKnownCACertificates: System
---
apiVersion: v1
kind: Secret
metadata:
  name: example-com-cert
  namespace: default
type: kubernetes.io/tls
data:
  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t
  tls.key: |
    LS0tLS1CRUdJTiBQUklW
    QVRFIEtFWS0tLS0t
---
apiVersion: v1
kind: Secret
metadata:
  name: basic
stringData:
  username: admin
  password: t0p-Secret
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ca
data:
  ca.crt: |
    -----BEGIN CERTIFICATE-----
    MIIB
    -----END CERTIFICATE-----
binaryData:
  blob: AAEC
immutable: true
---
apiVersion: v1
kind: Namespace
metadata:
  name: team-a
  labels:
    shared-gateway-access: "true"
---
apiVersion: v1
kind: Service
metadata:
  name: foo-svc
  namespace: default
spec:
  selector:
    app.kubernetes.io/name: foo
  ports:
  - name: http
    protocol: TCP
    port: 8080
    targetPort: 9376
  - name: grpc
    port: 50051
    targetPort: grpc-port
    appProtocol: kubernetes.io/h2c
---
apiVersion: v1
kind: Service
metadata:
  name: my-database
spec:
  type: ExternalName
  externalName: db.example.com
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: example-abc
  labels:
    kubernetes.io/service-name: example
addressType: IPv4
ports:
- name: http
  protocol: TCP
  port: 80
endpoints:
- addresses:
  - "10.1.2.3"
  conditions:
    ready: true
  hostname: pod-1
  nodeName: node-1
  zone: us-west2-a
  targetRef:
    kind: Pod
    name: pod-1
    namespace: default
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: httpbin
  namespace: foo
spec:
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/default/sa/sleep"]
    - source:
        namespaces: ["test"]
    to:
    - operation:
        methods: ["GET"]
        paths: ["/info*"]
    - operation:
        methods: ["POST"]
        paths: ["/data"]
    when:
    - key: request.auth.claims[iss]
      values: ["https://accounts.google.com"]
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: deny-post-8080
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: DENY
  rules:
  - to:
    - operation:
        methods: ["POST"]
        ports: ["8080"]
        notPaths: ["/api/{*}/public/{**}"]
  - from:
    - source:
        ipBlocks: ["203.0.113.4", "10.0.0.0/8"]
        notRemoteIpBlocks: ["2001:db8::/32"]
    when:
    - key: destination.port
      notValues: ["22"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: allow-nothing
  namespace: foo
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ext-authz
  namespace: istio-system
spec:
  targetRefs:
  - kind: Gateway
    group: gateway.networking.k8s.io
    name: example-gateway
  action: CUSTOM
  provider:
    name: my-ext-authz
  rules:
  - to:
    - operation:
        paths: ["/admin/*"]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: jwt-example
  namespace: istio-system
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  jwtRules:
  - issuer: "issuer-foo"
    jwksUri: https://example.com/.well-known/jwks.json
    audiences: [bookstore_web.apps.example.com]
    fromHeaders:
    - name: x-jwt-assertion
      prefix: "Bearer "
    fromParams: [my_token]
    fromCookies: [session]
    outputPayloadToHeader: x-jwt-payload
    forwardOriginalToken: true
    outputClaimToHeaders:
    - header: x-jwt-iss
      claim: iss
    timeout: 5s
  - issuer: "testing@secure.istio.io"
    jwks: '{ "keys": [ {"e":"AQAB","kid":"k1","kty":"RSA","n":"xAE7eB6qugXyCAG3yhh7pkDkT65pHymX"} ] }'
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: default
  namespace: foo
spec:
  selector:
    matchLabels:
      app: finance
  mtls:
    mode: STRICT
  portLevelMtls:
    8080:
      mode: DISABLE
`;

/** Every document of a YAML text, as the loader hands them over. */
function docs(text: string): any[] {
  return parseAllDocuments(text).map((d) => d.toJS());
}

const EXAMPLES = docs(VALID_EXAMPLES);

/** A deep copy of the first example of `kind`, to break in one place. */
function example(kind: string, name?: string): any {
  const found = EXAMPLES.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.ok(found, `no example ${kind} ${name ?? ''}`);
  return structuredClone(found);
}

/** The object with `path` set to `value` (a value of undefined deletes the field). */
function withField(obj: any, path: (string | number)[], value: unknown): any {
  let cur = obj;
  for (const seg of path.slice(0, -1)) cur = cur[seg];
  const last = path[path.length - 1];
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return obj;
}

function expectOnly(issues: ValidationIssue[], path: (string | number)[], message: string): void {
  assert.deepEqual(issues, [{ path, message }]);
}

describe('upstream examples', () => {
  it('covers every registered kind', () => {
    const covered = new Set(EXAMPLES.map((o) => o.kind));
    for (const k of KINDS) assert.ok(covered.has(k.kind), `no example for ${k.kind}`);
  });

  for (const o of EXAMPLES) {
    it(`${o.kind} ${o.metadata.name} is valid`, () => {
      assert.deepEqual(validateResource(o), []);
    });
  }
});

describe('kind registry', () => {
  it('finds every kind under each of its apiVersions, and nothing else', () => {
    for (const k of KINDS) {
      for (const v of k.versions) assert.equal(findKind(apiVersionOf(k.group, v), k.kind), k);
    }
    assert.equal(findKind('gateway.networking.k8s.io/v1beta1', 'ReferenceGrant')?.plural, 'referencegrants');
    assert.equal(findKind('security.istio.io/v1beta1', 'AuthorizationPolicy')?.plural, 'authorizationpolicies');
    assert.equal(findKind('discovery.k8s.io/v1', 'EndpointSlice')?.plural, 'endpointslices');
    assert.equal(findKind('v1', 'HTTPRoute'), undefined);
    assert.equal(findKind('gateway.networking.k8s.io/v1', 'httproute'), undefined);
  });

  it('finds kinds by REST plural, as the management API needs', () => {
    assert.equal(findKindByPlural('gateway.networking.k8s.io/v1', 'httproutes')?.kind, 'HTTPRoute');
    assert.equal(findKindByPlural('v1', 'secrets')?.kind, 'Secret');
    assert.equal(findKindByPlural('security.istio.io/v1beta1', 'peerauthentications')?.kind, 'PeerAuthentication');
    assert.equal(findKindByPlural('v1', 'httproutes'), undefined);
  });

  it('knows which kinds are cluster-scoped', () => {
    const cluster = KINDS.filter((k) => !k.namespaced).map((k) => k.kind).sort();
    assert.deepEqual(cluster, ['GatewayClass', 'Namespace']);
  });

  it('has unique plurals, all lowercase', () => {
    const plurals = KINDS.map((k) => `${k.group}/${k.plural}`);
    assert.equal(new Set(plurals).size, plurals.length);
    for (const k of KINDS) assert.match(k.plural, /^[a-z]+$/);
  });
});

describe('envelope', () => {
  it('rejects what is not a map', () => {
    for (const [input, got] of [[null, 'an empty value'], [[1], 'a list'], ['x', '"x"'], [42, '42'], [undefined, 'an empty value']] as const) {
      expectOnly(validateResource(input), [], `a resource must be a map with apiVersion, kind and metadata (got ${got})`);
    }
  });

  it('names missing apiVersion, kind and metadata at the top level', () => {
    assert.deepEqual(validateResource({}), [
      { path: [], message: 'missing required field "apiVersion"' },
      { path: [], message: 'missing required field "kind"' },
      { path: [], message: 'missing required field "metadata"' },
    ]);
  });

  it('rejects non-string apiVersion and kind', () => {
    assert.deepEqual(validateResource({ apiVersion: 1, kind: ['Gateway'], metadata: { name: 'a' } }), [
      { path: ['apiVersion'], message: 'must be a string (got 1)' },
      { path: ['kind'], message: 'must be a string (got a list)' },
    ]);
  });

  it('lists the kinds of a known apiVersion when the kind is unknown', () => {
    expectOnly(
      validateResource({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'TCPRoute', metadata: { name: 'a' } }),
      ['kind'],
      'unknown kind "TCPRoute" for apiVersion gateway.networking.k8s.io/v1; supported kinds: GRPCRoute, Gateway, GatewayClass, HTTPRoute, ReferenceGrant',
    );
  });

  it('suggests the kind a near miss meant', () => {
    expectOnly(
      validateResource({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HttpRoute', metadata: { name: 'a' } }),
      ['kind'],
      'unknown kind "HttpRoute" for apiVersion gateway.networking.k8s.io/v1 (did you mean "HTTPRoute"?); supported kinds: GRPCRoute, Gateway, GatewayClass, HTTPRoute, ReferenceGrant',
    );
  });

  it('says which apiVersions serve a known kind', () => {
    expectOnly(
      validateResource({ apiVersion: 'gateway.networking.k8s.io/v1alpha2', kind: 'HTTPRoute', metadata: { name: 'a' } }),
      ['apiVersion'],
      'unsupported apiVersion "gateway.networking.k8s.io/v1alpha2" for kind HTTPRoute; use gateway.networking.k8s.io/v1 or gateway.networking.k8s.io/v1beta1',
    );
    expectOnly(
      validateResource({ apiVersion: 'security.istio.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'a' } }),
      ['apiVersion'],
      'unsupported apiVersion "security.istio.io/v1alpha1" for kind AuthorizationPolicy; use security.istio.io/v1 or security.istio.io/v1beta1',
    );
  });

  it('says when the apiVersion is unknown altogether', () => {
    const issues = validateResource({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'a' } });
    assert.equal(issues.length, 1);
    assert.deepEqual(issues[0].path, ['apiVersion']);
    assert.match(issues[0].message, /^unknown apiVersion "example\.com\/v1"; supported apiVersions: discovery\.k8s\.io\/v1, .*security\.istio\.io\/v1, .*v1$/);
  });

  it('points at metadata when the name is missing', () => {
    expectOnly(validateResource(withField(example('HTTPRoute'), ['metadata', 'name'], undefined)), ['metadata'], 'missing required field "name"');
    expectOnly(validateResource(withField(example('Gateway'), ['metadata'], undefined)), [], 'missing required field "metadata"');
  });

  it('checks names by the rule of each kind', () => {
    expectOnly(
      validateResource(withField(example('Service'), ['metadata', 'name'], '1-svc')),
      ['metadata', 'name'],
      'must be a lowercase RFC 1035 label (starting with a letter; letters, digits and "-"; at most 63 characters) (got "1-svc")',
    );
    assert.deepEqual(validateResource(withField(example('HTTPRoute'), ['metadata', 'name'], '1-route.v2')), []);
    expectOnly(
      validateResource(withField(example('Namespace'), ['metadata', 'name'], 'team.a')),
      ['metadata', 'name'],
      'must be a lowercase RFC 1123 label (letters, digits and "-", starting and ending with a letter or digit, at most 63 characters) (got "team.a")',
    );
    expectOnly(validateResource(withField(example('Gateway'), ['metadata', 'name'], '')), ['metadata', 'name'], 'must not be empty');
  });

  it('accepts server-set metadata and an ignored status', () => {
    const gw = example('Gateway');
    Object.assign(gw.metadata, {
      uid: '0b8a5c4e-1f1a-4b1e-9c1e-6a8d9a9f0f00',
      resourceVersion: '12345',
      generation: 3,
      creationTimestamp: '2024-05-01T10:00:00Z',
      managedFields: [{ manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:spec': {} } }],
      finalizers: ['gateway-exists-finalizer.gateway.networking.k8s.io'],
      ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: 'u1', controller: true }],
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"x":1}' },
    });
    gw.status = { conditions: [{ type: 'Programmed', status: 'True', anything: { goes: [1, 2] } }] };
    assert.deepEqual(validateResource(gw), []);
  });

  it('does not want a namespace on cluster-scoped kinds', () => {
    assert.deepEqual(validateResource(example('GatewayClass')), []);
    expectOnly(
      validateResource(withField(example('GatewayClass'), ['metadata', 'namespace'], 'default')),
      ['metadata', 'namespace'],
      'must not be set: GatewayClass is cluster-scoped',
    );
  });
});

describe('unknown fields', () => {
  it('at the top level', () => {
    expectOnly(validateResource(withField(example('HTTPRoute'), ['specs'], {})), ['specs'], 'unknown field "specs" (did you mean "spec"?)');
    expectOnly(validateResource(withField(example('ConfigMap'), ['spec'], {})), ['spec'], 'unknown field "spec"');
  });

  it('in metadata, with a suggestion for a near miss', () => {
    expectOnly(validateResource(withField(example('Service'), ['metadata', 'lables'], { a: 'b' })), ['metadata', 'lables'], 'unknown field "lables" (did you mean "labels"?)');
  });

  it('deep inside a route rule', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 0, 'matches', 0, 'path', 'regex'], true)),
      ['spec', 'rules', 0, 'matches', 0, 'path', 'regex'],
      'unknown field "regex"',
    );
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 1, 'filters', 1, 'cors', 'allowOrigin'], ['*'])),
      ['spec', 'rules', 1, 'filters', 1, 'cors', 'allowOrigin'],
      'unknown field "allowOrigin" (did you mean "allowOrigins"?)',
    );
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 0, 'backendRefs', 0, 'hostName'], 'x')),
      ['spec', 'rules', 0, 'backendRefs', 0, 'hostName'],
      'unknown field "hostName"',
    );
  });

  it('with a different case', () => {
    expectOnly(
      validateResource(withField(example('Gateway'), ['spec', 'listeners', 0, 'Port'], 80)),
      ['spec', 'listeners', 0, 'Port'],
      'unknown field "Port" (did you mean "port"?)',
    );
  });

  it('in Istio rules', () => {
    expectOnly(
      validateResource(withField(example('AuthorizationPolicy', 'httpbin'), ['spec', 'rules', 0, 'from', 0, 'source', 'principal'], ['x'])),
      ['spec', 'rules', 0, 'from', 0, 'source', 'principal'],
      'unknown field "principal" (did you mean "principals"?)',
    );
  });

  it('at the top level of an EndpointSlice, whose fields live there', () => {
    expectOnly(validateResource(withField(example('EndpointSlice'), ['spec'], {})), ['spec'], 'unknown field "spec"');
  });
});

describe('bad values', () => {
  it('enum: names the allowed values and what was given', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 0, 'matches', 0, 'path', 'type'], 'Prefix')),
      ['spec', 'rules', 0, 'matches', 0, 'path', 'type'],
      'must be one of: Exact, PathPrefix, RegularExpression (got "Prefix")',
    );
    expectOnly(
      validateResource(withField(example('AuthorizationPolicy', 'httpbin'), ['spec', 'action'], 'deny')),
      ['spec', 'action'],
      'must be one of: ALLOW, DENY, AUDIT, CUSTOM (got "deny")',
    );
    expectOnly(
      validateResource(withField(example('PeerAuthentication'), ['spec', 'mtls', 'mode'], 'ON')),
      ['spec', 'mtls', 'mode'],
      'must be one of: UNSET, DISABLE, PERMISSIVE, STRICT (got "ON")',
    );
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 3, 'filters', 0, 'requestRedirect', 'statusCode'], 304)),
      ['spec', 'rules', 3, 'filters', 0, 'requestRedirect', 'statusCode'],
      'must be one of: 301, 302, 303, 307, 308 (got 304)',
    );
  });

  it('type: names the expected type', () => {
    expectOnly(
      validateResource(withField(example('Gateway'), ['spec', 'listeners', 0, 'port'], '80')),
      ['spec', 'listeners', 0, 'port'],
      'must be an integer (got string "80")',
    );
    expectOnly(validateResource(withField(example('HTTPRoute'), ['spec', 'hostnames'], 'foo.example.com')), ['spec', 'hostnames'], 'must be a list (got "foo.example.com")');
    expectOnly(
      validateResource(withField(example('Namespace'), ['metadata', 'labels', 'shared-gateway-access'], true)),
      ['metadata', 'labels', 'shared-gateway-access'],
      'must be a string (got true; quote it to make it a string: "true")',
    );
    expectOnly(validateResource(withField(example('Gateway'), ['spec'], null)), ['spec'], 'must be a map (got an empty value)');
    expectOnly(
      validateResource(withField(example('RequestAuthentication'), ['spec', 'jwtRules', 0, 'forwardOriginalToken'], 'yes')),
      ['spec', 'jwtRules', 0, 'forwardOriginalToken'],
      'must be a boolean (true or false) (got string "yes")',
    );
  });

  it('YAML infinities and NaN are not numbers a field can hold', () => {
    const [gw] = docs('apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: a}\nspec:\n  gatewayClassName: c\n  listeners:\n  - {name: a, protocol: HTTP, port: .inf}\n  - {name: b, protocol: HTTP, port: .nan}\n');
    assert.deepEqual(validateResource(gw), [
      { path: ['spec', 'listeners', 0, 'port'], message: 'must be an integer (got Infinity)' },
      { path: ['spec', 'listeners', 1, 'port'], message: 'must be an integer (got NaN)' },
    ]);
  });

  it('ports out of range', () => {
    expectOnly(validateResource(withField(example('Gateway'), ['spec', 'listeners', 0, 'port'], 0)), ['spec', 'listeners', 0, 'port'], 'must be a port number from 1 to 65535 (got 0)');
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 0, 'backendRefs', 0, 'port'], 65536)),
      ['spec', 'rules', 0, 'backendRefs', 0, 'port'],
      'must be a port number from 1 to 65535 (got 65536)',
    );
    expectOnly(validateResource(withField(example('Service'), ['spec', 'ports', 0, 'port'], 1.5)), ['spec', 'ports', 0, 'port'], 'must be an integer (got 1.5)');
    expectOnly(
      validateResource(withField(example('Backend', 'backend-fqdn'), ['spec', 'endpoints', 0, 'fqdn', 'port'], -1)),
      ['spec', 'endpoints', 0, 'fqdn', 'port'],
      'must be a port number from 0 to 65535 (got -1)',
    );
  });

  it('weights beyond the CRD maximum', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 1, 'backendRefs', 0, 'weight'], 1_000_001)),
      ['spec', 'rules', 1, 'backendRefs', 0, 'weight'],
      'must be a weight from 0 to 1000000 (got 1000001)',
    );
  });

  it('IntOrString: one message, from the alternative that fits the value', () => {
    const at = ['spec', 'ports', 0, 'targetPort'];
    expectOnly(validateResource(withField(example('Service'), at, true)), at, 'must be an integer or a string (got true)');
    expectOnly(validateResource(withField(example('Service'), at, 70000)), at, 'must be a port number from 1 to 65535 (got 70000)');
    expectOnly(validateResource(withField(example('Service'), at, 'HTTP')), at, 'must be a port name (at most 15 lowercase letters, digits and "-") (got "HTTP")');
    const svc = example('Service');
    svc.spec.ports[1].targetPort = { port: 1 };
    expectOnly(validateResource(svc), ['spec', 'ports', 1, 'targetPort'], 'must be an integer or a string (got a map)');
  });

  it('GEP-2257 durations', () => {
    const at = ['spec', 'rules', 1, 'timeouts', 'request'];
    const route = () => withField(example('HTTPRoute'), ['spec', 'rules', 1, 'timeouts', 'backendRequest'], undefined);
    for (const good of ['0s', '1h', '1h30m', '500ms', '99999s', '1h1m1s1ms']) {
      assert.deepEqual(validateResource(withField(route(), at, good)), [], good);
    }
    for (const bad of ['1d', '0.5s', '100us', '123456s', '10', '1h1m1s1ms1h', ' 10s']) {
      expectOnly(
        validateResource(withField(route(), at, bad)),
        at,
        `must be a duration such as "10s", "1m30s" or "500ms" (1 to 4 numbers of at most 5 digits, each followed by h, m, s or ms) (got ${JSON.stringify(bad)})`,
      );
    }
  });

  it('hostnames and header names', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'hostnames', 0], 'Foo.Example.com')),
      ['spec', 'hostnames', 0],
      'must be a lowercase hostname such as "api.example.com", optionally starting with "*." (no port, no trailing dot) (got "Foo.Example.com")',
    );
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 1, 'matches', 0, 'headers', 0, 'name'], 'bad header')),
      ['spec', 'rules', 1, 'matches', 0, 'headers', 0, 'name'],
      'must be an HTTP header name (letters, digits and !#$%&\'*+-.^_`|~) (got "bad header")',
    );
  });

  it('each bad key is reported at itself, long ones by their length', () => {
    const ns = example('Namespace');
    const long = `example.com/${'a'.repeat(400)}`;
    ns.metadata.labels = { [long]: 'x', 'ok-key': 'x', 'bad key': 'x' };
    assert.deepEqual(validateResource(ns), [
      { path: ['metadata', 'labels', long], message: `invalid key "${long.slice(0, 80)}…": must be at most 317 characters long (got 412)` },
      {
        path: ['metadata', 'labels', 'bad key'],
        message: 'invalid key "bad key": must be a key such as "app" or "example.com/app" (optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit) (got "bad key")',
      },
    ]);
  });

  it('label keys are reported at the key', () => {
    expectOnly(
      validateResource(withField(example('Namespace'), ['metadata', 'labels', 'bad key'], 'x')),
      ['metadata', 'labels', 'bad key'],
      'invalid key "bad key": must be a key such as "app" or "example.com/app" (optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit) (got "bad key")',
    );
  });

  it('list limits from the CRD', () => {
    const route = example('HTTPRoute');
    route.spec.hostnames = Array.from({ length: 17 }, (_, i) => `h${i}.example.com`);
    expectOnly(validateResource(route), ['spec', 'hostnames'], 'must have at most 16 items (got 17)');
    expectOnly(validateResource(withField(example('Gateway'), ['spec', 'listeners'], [])), ['spec', 'listeners'], 'must have at least 1 item');
  });

  it('sets reject duplicates at the repeated item', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 1, 'filters', 1, 'cors', 'allowMethods'], ['GET', 'POST', 'GET'])),
      ['spec', 'rules', 1, 'filters', 1, 'cors', 'allowMethods', 2],
      'duplicate item (same as item 0)',
    );
  });
});

describe('missing required fields', () => {
  it('points at the parent and names the field', () => {
    expectOnly(validateResource(withField(example('Gateway'), ['spec', 'listeners', 1, 'port'], undefined)), ['spec', 'listeners', 1], 'missing required field "port"');
    expectOnly(validateResource(withField(example('HTTPRoute'), ['spec', 'parentRefs', 0, 'name'], undefined)), ['spec', 'parentRefs', 0], 'missing required field "name"');
    expectOnly(validateResource(withField(example('GatewayClass'), ['spec', 'controllerName'], undefined)), ['spec'], 'missing required field "controllerName"');
    expectOnly(
      validateResource(withField(example('AuthorizationPolicy', 'httpbin'), ['spec', 'rules', 0, 'when', 0, 'key'], undefined)),
      ['spec', 'rules', 0, 'when', 0],
      'missing required field "key"',
    );
    expectOnly(validateResource(withField(example('EndpointSlice'), ['addressType'], undefined)), [], 'missing required field "addressType"');
    expectOnly(validateResource(withField(example('ReferenceGrant'), ['spec', 'to'], undefined)), ['spec'], 'missing required field "to"');
  });
});

describe('Gateway API semantics', () => {
  it('PathPrefix and Exact values must be absolute, clean paths', () => {
    const at = ['spec', 'rules', 0, 'matches', 0, 'path', 'value'];
    expectOnly(validateResource(withField(example('HTTPRoute'), at, 'login')), at, 'must be an absolute path starting with "/" when type is PathPrefix (got "login")');
    expectOnly(validateResource(withField(example('HTTPRoute'), at, '/a//b')), at, 'must not contain "//" when type is PathPrefix');
    expectOnly(validateResource(withField(example('HTTPRoute'), at, '/a/%2Fb')), at, 'must not contain "%2F" when type is PathPrefix');
    expectOnly(validateResource(withField(example('HTTPRoute'), at, '/a/..')), at, 'must not end with "/." or "/.." when type is PathPrefix');
    expectOnly(
      validateResource(withField(example('HTTPRoute'), at, '/a b')),
      at,
      "must only contain URL path characters (letters, digits, -._~!$&'()*+,;=:@/ and %XX escapes)",
    );
    // A match without a type is a PathPrefix match.
    const route = example('HTTPRoute');
    delete route.spec.rules[0].matches[0].path.type;
    route.spec.rules[0].matches[0].path.value = 'relative';
    expectOnly(validateResource(route), at, 'must be an absolute path starting with "/" when type is PathPrefix (got "relative")');
  });

  it('regular expressions must compile with RE2 syntax (what Envoy accepts)', () => {
    const at = ['spec', 'rules', 1, 'matches', 1, 'path', 'value'];
    expectOnly(validateResource(withField(example('HTTPRoute'), at, '^/v[0-9+$')), at, 'is not a valid RE2 regular expression: missing closing ]: `[0-9+$`');
    // Valid JavaScript, but no RE2: lookaheads and backreferences are refused, not served on a backtracking engine.
    expectOnly(validateResource(withField(example('HTTPRoute'), at, '/v(?=1)')), at, 'is not a valid RE2 regular expression: invalid or unsupported Perl syntax: `(?=`');
    expectOnly(validateResource(withField(example('HTTPRoute'), at, '/(a)/\\1')), at, 'is not a valid RE2 regular expression: invalid escape sequence: `\\1`');
    expectOnly(validateResource(withField(example('HTTPRoute'), at, '/.{0,1000}')), at, 'is too complex (RE2 program size 2003, at most 1000)');
    const route = example('HTTPRoute');
    route.spec.rules[1].matches[0].headers[0] = { type: 'RegularExpression', name: 'env', value: 'can(ary' };
    expectOnly(validateResource(route), ['spec', 'rules', 1, 'matches', 0, 'headers', 0, 'value'], 'is not a valid RE2 regular expression: missing closing ): `can(ary`');
    const grpc = example('GRPCRoute');
    grpc.spec.rules[1].matches[1].method.service = '*.example';
    expectOnly(validateResource(grpc), ['spec', 'rules', 1, 'matches', 1, 'method', 'service'], 'is not a valid RE2 regular expression: missing argument to repetition operator: `*`');
  });

  it('listener names are unique within a Gateway', () => {
    expectOnly(
      validateResource(withField(example('Gateway'), ['spec', 'listeners', 1, 'name'], 'http')),
      ['spec', 'listeners', 1, 'name'],
      'Listener name must be unique within the Gateway ("http" is also listeners[0].name)',
    );
  });

  it('port, protocol and hostname combinations are unique', () => {
    const gw = example('Gateway');
    gw.spec.listeners.push({ name: 'http-2', protocol: 'HTTP', port: 80 });
    expectOnly(validateResource(gw), ['spec', 'listeners', 2], 'Combination of port, protocol and hostname must be unique for each listener (same as listeners[0])');
  });

  it('listener TLS must fit the protocol', () => {
    const plain = example('Gateway');
    plain.spec.listeners[0].tls = { certificateRefs: [{ name: 'c' }] };
    expectOnly(validateResource(plain), ['spec', 'listeners', 0, 'tls'], 'tls must not be specified for protocol HTTP');
    expectOnly(validateResource(withField(example('Gateway'), ['spec', 'listeners', 1, 'tls'], undefined)), ['spec', 'listeners', 1], 'tls is required for protocol HTTPS (certificateRefs to serve)');
    expectOnly(
      validateResource(withField(example('Gateway'), ['spec', 'listeners', 1, 'tls', 'certificateRefs'], [])),
      ['spec', 'listeners', 1, 'tls'],
      'certificateRefs or options must be specified when mode is Terminate',
    );
    expectOnly(
      validateResource(withField(example('Gateway'), ['spec', 'listeners', 1, 'tls', 'mode'], 'Passthrough')),
      ['spec', 'listeners', 1, 'tls', 'mode'],
      'tls mode must be Terminate for protocol HTTPS',
    );
  });

  it('listener hostnames are names, not addresses', () => {
    expectOnly(
      validateResource(withField(example('Gateway'), ['spec', 'listeners', 1, 'hostname'], '10.0.0.1')),
      ['spec', 'listeners', 1, 'hostname'],
      'must be a hostname, not an IP address',
    );
  });

  it('a Selector needs a selector', () => {
    expectOnly(
      validateResource(withField(example('Gateway'), ['spec', 'listeners', 1, 'allowedRoutes', 'namespaces', 'selector'], undefined)),
      ['spec', 'listeners', 1, 'allowedRoutes', 'namespaces'],
      'selector must be specified when from is Selector',
    );
    expectOnly(
      validateResource(withField(example('Gateway'), ['spec', 'listeners', 1, 'allowedRoutes', 'namespaces', 'selector', 'matchExpressions', 0, 'values'], [])),
      ['spec', 'listeners', 1, 'allowedRoutes', 'namespaces', 'selector', 'matchExpressions', 0, 'values'],
      'must be non-empty when operator is In',
    );
  });

  it('address values fit their type', () => {
    expectOnly(
      validateResource(withField(example('Gateway'), ['spec', 'addresses', 0, 'value'], 'not-an-ip')),
      ['spec', 'addresses', 0, 'value'],
      'must be an IP address for type IPAddress (got "not-an-ip")',
    );
  });

  it('a filter type and its configuration field agree', () => {
    const route = example('HTTPRoute');
    route.spec.rules[1].filters[0].type = 'ResponseHeaderModifier';
    assert.deepEqual(validateResource(route), [
      { path: ['spec', 'rules', 1, 'filters', 0, 'requestHeaderModifier'], message: 'can only be set when type is RequestHeaderModifier (type is ResponseHeaderModifier)' },
      { path: ['spec', 'rules', 1, 'filters', 0], message: 'missing required field "responseHeaderModifier" for type ResponseHeaderModifier' },
    ]);
  });

  it('filters that may appear once, and redirect vs rewrite', () => {
    const route = example('HTTPRoute');
    route.spec.rules[1].filters.push(structuredClone(route.spec.rules[1].filters[0]));
    expectOnly(validateResource(route), ['spec', 'rules', 1, 'filters', 2, 'type'], 'RequestHeaderModifier filter cannot be repeated (also filters[0])');
    const both = example('HTTPRoute');
    both.spec.rules[3].filters.push({ type: 'URLRewrite', urlRewrite: { hostname: 'x.example.com' } });
    expectOnly(validateResource(both), ['spec', 'rules', 3, 'filters'], 'May specify either a RequestRedirect or a URLRewrite filter, but not both');
  });

  it('a redirect does not go with backendRefs', () => {
    const route = example('HTTPRoute');
    route.spec.rules[3].backendRefs = [{ name: 'foo-svc', port: 8080 }];
    expectOnly(validateResource(route), ['spec', 'rules', 3], 'RequestRedirect filter must not be used together with backendRefs');
  });

  it('replacePrefixMatch needs exactly one PathPrefix match', () => {
    const route = example('HTTPRoute');
    route.spec.rules[2].matches.push({ path: { type: 'PathPrefix', value: '/older' } });
    expectOnly(validateResource(route), ['spec', 'rules', 2, 'matches'], 'When using URLRewrite filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified');
    const modifier = example('HTTPRoute');
    modifier.spec.rules[2].filters[0].urlRewrite.path = { type: 'ReplaceFullPath', replacePrefixMatch: '/x' };
    assert.deepEqual(validateResource(modifier), [
      { path: ['spec', 'rules', 2, 'filters', 0, 'urlRewrite', 'path'], message: "replaceFullPath must be specified when type is set to 'ReplaceFullPath'" },
      { path: ['spec', 'rules', 2, 'filters', 0, 'urlRewrite', 'path', 'replacePrefixMatch'], message: "type must be 'ReplacePrefixMatch' when replacePrefixMatch is set" },
    ]);
  });

  it('a Service backendRef needs a port', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 0, 'backendRefs', 0, 'port'], undefined)),
      ['spec', 'rules', 0, 'backendRefs', 0],
      'missing required field "port" (a Service reference needs the Service port)',
    );
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 2, 'filters', 1, 'requestMirror', 'backendRef', 'port'], undefined)),
      ['spec', 'rules', 2, 'filters', 1, 'requestMirror', 'backendRef'],
      'missing required field "port" (a Service reference needs the Service port)',
    );
  });

  it('mirror percent and fraction', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 2, 'filters', 1, 'requestMirror', 'percent'], 10)),
      ['spec', 'rules', 2, 'filters', 1, 'requestMirror'],
      'Only one of percent or fraction may be specified in HTTPRequestMirrorFilter',
    );
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 2, 'filters', 1, 'requestMirror', 'fraction', 'numerator'], 1001)),
      ['spec', 'rules', 2, 'filters', 1, 'requestMirror', 'fraction', 'numerator'],
      'numerator must be less than or equal to denominator',
    );
  });

  it('CORS wildcards stand alone', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 1, 'filters', 1, 'cors', 'allowOrigins'], ['*', 'https://a.example.com'])),
      ['spec', 'rules', 1, 'filters', 1, 'cors', 'allowOrigins'],
      "AllowOrigins cannot contain '*' alongside other values",
    );
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 1, 'filters', 1, 'cors', 'allowOrigins', 0], 'www.foo.com')),
      ['spec', 'rules', 1, 'filters', 1, 'cors', 'allowOrigins', 0],
      'must be an origin such as "https://example.com", "https://*.example.com:8443", or "*" (got "www.foo.com")',
    );
  });

  it('one action per header name', () => {
    const route = example('HTTPRoute');
    route.spec.rules[1].filters[0].requestHeaderModifier.remove = ['X-Env'];
    expectOnly(
      validateResource(route),
      ['spec', 'rules', 1, 'filters', 0, 'requestHeaderModifier', 'remove', 0],
      'header "x-env" already has an action (set[0]); only one action per header name is permitted',
    );
  });

  it('backendRequest timeout within the request timeout', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 1, 'timeouts', 'backendRequest'], '1m')),
      ['spec', 'rules', 1, 'timeouts', 'backendRequest'],
      'backendRequest timeout cannot be longer than request timeout',
    );
    assert.deepEqual(validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 1, 'timeouts', 'request'], '0s')), []);
  });

  it('rule names unique; parentRefs distinct', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 2, 'name'], 'login')),
      ['spec', 'rules', 2, 'name'],
      'Rule name must be unique within the route ("login" is also rules[0].name)',
    );
    const route = example('HTTPRoute');
    route.spec.parentRefs.push({ name: 'example-gateway', sectionName: 'https' });
    expectOnly(validateResource(route), ['spec', 'parentRefs', 1], 'sectionName or port must be unique when parentRefs includes 2 or more references to the same parent (same as parentRefs[0])');
    const mixed = example('HTTPRoute');
    mixed.spec.parentRefs.push({ name: 'example-gateway' });
    expectOnly(validateResource(mixed), ['spec', 'parentRefs', 1], 'sectionName or port must be specified when parentRefs includes 2 or more references to the same parent (see parentRefs[0])');
  });

  it('permanent session cookies need an absolute timeout', () => {
    expectOnly(
      validateResource(withField(example('HTTPRoute'), ['spec', 'rules', 2, 'sessionPersistence', 'absoluteTimeout'], undefined)),
      ['spec', 'rules', 2, 'sessionPersistence'],
      'AbsoluteTimeout must be specified when cookie lifetimeType is Permanent',
    );
  });

  it('gRPC method matches', () => {
    expectOnly(
      validateResource(withField(example('GRPCRoute'), ['spec', 'rules', 0, 'matches', 0, 'method'], {})),
      ['spec', 'rules', 0, 'matches', 0, 'method'],
      "One or both of 'service' or 'method' must be specified",
    );
    expectOnly(
      validateResource(withField(example('GRPCRoute'), ['spec', 'rules', 0, 'matches', 0, 'method', 'method'], 'Log/in')),
      ['spec', 'rules', 0, 'matches', 0, 'method', 'method'],
      'must be a gRPC method name such as "GetUser" (got "Log/in")',
    );
    expectOnly(
      validateResource(withField(example('GRPCRoute'), ['spec', 'rules', 0, 'matches', 0, 'method', 'type'], 'Prefix')),
      ['spec', 'rules', 0, 'matches', 0, 'method', 'type'],
      'must be one of: Exact, RegularExpression (got "Prefix")',
    );
    expectOnly(
      validateResource(withField(example('GRPCRoute'), ['spec', 'rules', 1, 'filters', 0, 'type'], 'URLRewrite')),
      ['spec', 'rules', 1, 'filters', 0, 'type'],
      'must be one of: ResponseHeaderModifier, RequestHeaderModifier, RequestMirror, ExtensionRef (got "URLRewrite")',
    );
  });
});

describe('Envoy Gateway Backend semantics', () => {
  it('an endpoint has exactly one address', () => {
    expectOnly(
      validateResource(withField(example('Backend', 'backend-ip-and-uds'), ['spec', 'endpoints', 1, 'ip'], { address: '10.0.0.2', port: 1 })),
      ['spec', 'endpoints', 1],
      'only one of fqdn, ip or unix can be specified (got ip and unix)',
    );
    expectOnly(
      validateResource(withField(example('Backend', 'backend-ip-and-uds'), ['spec', 'endpoints', 2], { zone: 'a' })),
      ['spec', 'endpoints', 2],
      'one of fqdn, ip or unix must be specified',
    );
  });

  it('fqdn endpoints are not mixed with others; DynamicResolver has none', () => {
    const be = example('Backend', 'backend-fqdn');
    be.spec.endpoints.push({ ip: { address: '10.0.0.1', port: 80 } });
    expectOnly(validateResource(be), ['spec', 'endpoints'], 'fqdn addresses cannot be mixed with other address types');
    expectOnly(validateResource(withField(example('Backend', 'backend-fqdn'), ['spec', 'type'], 'DynamicResolver')), ['spec', 'endpoints'], 'DynamicResolver type cannot have endpoints specified');
  });

  it('bad IP addresses and TLS combinations', () => {
    expectOnly(
      validateResource(withField(example('Backend', 'backend-ip-and-uds'), ['spec', 'endpoints', 0, 'ip', 'address'], '10.0.0.256')),
      ['spec', 'endpoints', 0, 'ip', 'address'],
      'must be an IPv4 or IPv6 address (got "10.0.0.256")',
    );
    expectOnly(
      validateResource(withField(example('Backend', 'backend-ip-and-uds'), ['spec', 'tls', 'insecureSkipVerify'], true)),
      ['spec', 'tls'],
      'must not contain either caCertificateRefs or wellKnownCACertificates when insecureSkipVerify is enabled',
    );
  });
});

describe('Envoy Gateway SecurityPolicy and ClientTrafficPolicy semantics', () => {
  it('a CORS origin that is not an origin is refused, and the check does not backtrack', () => {
    for (const bad of ['www.foo.com', 'ftp://foo.com', 'http://foo.*.com', 'http://foo.com/path', 'http://foo.com:abc']) {
      expectOnly(validateResource(withField(example('SecurityPolicy', 'jwt-cors-authz'), ['spec', 'cors', 'allowOrigins', 0], bad)), ['spec', 'cors', 'allowOrigins', 0], `must be "*" or an origin such as "https://www.example.com", "https://*.example.com" or "http://localhost:*" (got "${bad}")`);
    }
    const t0 = performance.now();
    validateResource(withField(example('SecurityPolicy', 'jwt-cors-authz'), ['spec', 'cors', 'allowOrigins', 0], `http://${'a.'.repeat(120)}!`));
    assert.ok(performance.now() - t0 < 200);
  });
  it('exactly one JWKS source, a known provider in authorization, one extractFrom source, a valid CIDR', () => {
    const sp = example('SecurityPolicy', 'jwt-cors-authz');
    sp.spec.jwt.providers[0].localJWKS = { type: 'Inline', inline: '{"keys":[]}' };
    expectOnly(validateResource(sp), ['spec', 'jwt', 'providers', 0], 'exactly one of remoteJWKS or localJWKS must be specified');
    expectOnly(validateResource(withField(example('SecurityPolicy', 'jwt-cors-authz'), ['spec', 'authorization', 'rules', 0, 'principal', 'jwt', 'provider'], 'other')), ['spec', 'authorization', 'rules', 0, 'principal', 'jwt', 'provider'], 'no JWT provider "other" in this SecurityPolicy\'s jwt.providers');
    expectOnly(validateResource(withField(example('SecurityPolicy', 'keys-basic-extauth'), ['spec', 'apiKeyAuth', 'extractFrom', 0, 'params'], ['k'])), ['spec', 'apiKeyAuth', 'extractFrom', 0], 'exactly one of headers, params, or cookies must be specified');
    expectOnly(validateResource(withField(example('SecurityPolicy', 'jwt-cors-authz'), ['spec', 'authorization', 'rules', 0, 'principal', 'clientCIDRs', 0], '10.0.1.0/33')), ['spec', 'authorization', 'rules', 0, 'principal', 'clientCIDRs', 0], 'must be a CIDR range such as "192.168.1.0/24" or "2001:db8::/64" (got "10.0.1.0/33")');
  });
  it('a policy must target something, of a kind it may target', () => {
    const sp = example('SecurityPolicy', 'keys-basic-extauth');
    delete sp.spec.targetSelectors;
    expectOnly(validateResource(sp), ['spec'], 'either targetRef, targetRefs or targetSelectors must be set');
    expectOnly(validateResource(withField(example('ClientTrafficPolicy', 'client-traffic'), ['spec', 'targetRefs', 0, 'kind'], 'HTTPRoute')), ['spec', 'targetRefs', 0, 'kind'], 'this policy can only have a targetRef.kind of Gateway');
  });
});

describe('core kinds semantics', () => {
  it('Secret data must be base64, and errors never show the value', () => {
    const issues = validateResource(withField(example('Secret', 'example-com-cert'), ['data', 'tls.key'], 'hunter2-is-not-base64!'));
    expectOnly(issues, ['data', 'tls.key'], 'must be base64-encoded (standard alphabet, with padding); use stringData for plain text');
    const typed = validateResource(withField(example('Secret', 'basic'), ['stringData', 'password'], 12345));
    expectOnly(typed, ['stringData', 'password'], 'must be a string (got a number)');
    assert.ok(!JSON.stringify(typed).includes('12345'));
  });

  it('typed Secrets carry their keys', () => {
    expectOnly(validateResource(withField(example('Secret', 'example-com-cert'), ['data', 'tls.key'], undefined)), ['data'], 'missing required key "tls.key" for type kubernetes.io/tls');
    const basic = example('Secret', 'basic');
    basic.type = 'kubernetes.io/basic-auth';
    assert.deepEqual(validateResource(basic), []);
  });

  it('ConfigMap keys are valid and not in both maps', () => {
    expectOnly(
      validateResource(withField(example('ConfigMap'), ['data', '..data'], 'x')),
      ['data', '..data'],
      'invalid key "..data": must be a key of letters, digits, "-", "_" or "." (not "." or "..", not starting with "..") (got "..data")',
    );
    expectOnly(validateResource(withField(example('ConfigMap'), ['data', 'blob'], 'x')), ['binaryData', 'blob'], 'duplicate of key "blob" in data');
  });

  it('Service ports and types', () => {
    expectOnly(validateResource(withField(example('Service', 'my-database'), ['spec', 'externalName'], undefined)), ['spec'], 'missing required field "externalName" for type ExternalName');
    expectOnly(validateResource(withField(example('Service', 'foo-svc'), ['spec', 'ports'], [])), ['spec'], 'missing required field "ports" (only headless and ExternalName Services may omit it)');
    expectOnly(
      validateResource(withField(example('Service', 'foo-svc'), ['spec', 'ports', 1, 'name'], undefined)),
      ['spec', 'ports', 1],
      'missing required field "name" (a Service with more than one port must name each)',
    );
    expectOnly(validateResource(withField(example('Service', 'foo-svc'), ['spec', 'ports', 1, 'port'], 8080)), ['spec', 'ports', 1, 'port'], 'duplicate port 8080/TCP (also ports[0])');
    expectOnly(
      validateResource(withField(example('Service', 'foo-svc'), ['spec', 'ports', 0, 'protocol'], 'HTTP')),
      ['spec', 'ports', 0, 'protocol'],
      'must be one of: TCP, UDP, SCTP (got "HTTP")',
    );
  });

  it('EndpointSlice addresses match the address type', () => {
    expectOnly(
      validateResource(withField(example('EndpointSlice'), ['endpoints', 0, 'addresses', 0], '2001:db8::1')),
      ['endpoints', 0, 'addresses', 0],
      'must be an IPv4 address for addressType IPv4 (got "2001:db8::1")',
    );
    expectOnly(validateResource(withField(example('EndpointSlice'), ['endpoints', 0, 'addresses'], [])), ['endpoints', 0, 'addresses'], 'must have at least 1 item');
  });
});

describe('Istio semantics', () => {
  it('a DENY policy without rules is invalid', () => {
    const ap = example('AuthorizationPolicy', 'deny-post-8080');
    delete ap.spec.rules;
    expectOnly(validateResource(ap), ['spec'], 'A DENY policy without rules is invalid: it would never be triggered; add an empty rule `{}` to deny every request');
    ap.spec.rules = [{}];
    assert.deepEqual(validateResource(ap), []);
  });

  it('CUSTOM needs provider.name; provider needs CUSTOM', () => {
    expectOnly(validateResource(withField(example('AuthorizationPolicy', 'ext-authz'), ['spec', 'provider'], undefined)), ['spec'], 'missing required field "provider" for action CUSTOM');
    expectOnly(validateResource(withField(example('AuthorizationPolicy', 'ext-authz'), ['spec', 'provider'], {})), ['spec', 'provider'], 'missing required field "name" for action CUSTOM');
    expectOnly(
      validateResource(withField(example('AuthorizationPolicy', 'ext-authz'), ['spec', 'action'], 'ALLOW')),
      ['spec', 'provider'],
      'can only be set when action is CUSTOM (action is ALLOW)',
    );
  });

  it('selector and targetRef(s) are mutually exclusive', () => {
    const ap = example('AuthorizationPolicy', 'deny-post-8080');
    ap.spec.targetRef = { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'gw' };
    expectOnly(validateResource(ap), ['spec'], 'only one of selector, targetRef or targetRefs can be set (got selector and targetRef)');
    const ra = example('RequestAuthentication');
    ra.spec.targetRefs = [{ kind: 'Service', name: 'svc' }];
    expectOnly(validateResource(ra), ['spec'], 'only one of selector, targetRef or targetRefs can be set (got selector and targetRefs)');
  });

  it('target references: supported kinds, same namespace', () => {
    const ap = example('AuthorizationPolicy', 'ext-authz');
    ap.spec.targetRefs[0].namespace = 'other';
    expectOnly(validateResource(ap), ['spec', 'targetRefs', 0, 'namespace'], 'cross namespace referencing is not currently supported');
    const pod = example('AuthorizationPolicy', 'ext-authz');
    pod.spec.targetRefs[0] = { kind: 'Pod', name: 'p' };
    expectOnly(
      validateResource(pod),
      ['spec', 'targetRefs', 0],
      'unsupported target Pod; supported kinds are core/Service, networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway and gateway.networking.k8s.io/GatewayClass',
    );
  });

  it('rule contents: sources, operations, conditions', () => {
    const at = ['spec', 'rules', 1, 'from', 0, 'source', 'ipBlocks', 1];
    expectOnly(validateResource(withField(example('AuthorizationPolicy', 'deny-post-8080'), at, '10.0.0.0/33')), at, 'must be an IP address or CIDR block (got "10.0.0.0/33")');
    const ports = ['spec', 'rules', 0, 'to', 0, 'operation', 'ports', 0];
    expectOnly(validateResource(withField(example('AuthorizationPolicy', 'deny-post-8080'), ports, 'http')), ports, 'must be a port number from 0 to 65535 (got "http")');
    const empty = ['spec', 'rules', 0, 'from', 1, 'source'];
    expectOnly(validateResource(withField(example('AuthorizationPolicy', 'httpbin'), empty, {})), empty, 'source must not be empty: set at least one field');
    const key = ['spec', 'rules', 0, 'when', 0, 'key'];
    expectOnly(validateResource(withField(example('AuthorizationPolicy', 'httpbin'), key, 'request.auth.claim[iss]')), key, 'unknown attribute "request.auth.claim[iss]"');
    expectOnly(validateResource(withField(example('AuthorizationPolicy', 'httpbin'), key, 'request.headers')), key, 'bad key "request.headers": should have the form request.headers[name]');
    const values = ['spec', 'rules', 0, 'when', 0, 'values'];
    expectOnly(
      validateResource(withField(example('AuthorizationPolicy', 'httpbin'), values, undefined)),
      ['spec', 'rules', 0, 'when', 0],
      'at least one of values or notValues must be set for key request.auth.claims[iss]',
    );
    const path = ['spec', 'rules', 0, 'to', 0, 'operation', 'notPaths', 0];
    expectOnly(
      validateResource(withField(example('AuthorizationPolicy', 'deny-post-8080'), path, '/api/{**}/x/{*}')),
      path,
      'invalid path "/api/{**}/x/{*}": {**} must be the last operator in a path template',
    );
  });

  it('CUSTOM does not support identity conditions', () => {
    const ap = example('AuthorizationPolicy', 'ext-authz');
    ap.spec.rules[0].from = [{ source: { principals: ['cluster.local/ns/a/sa/b'] } }];
    expectOnly(validateResource(ap), ['spec', 'rules', 0, 'from', 0, 'source', 'principals'], 'principals is currently not supported with CUSTOM action');
  });

  it('JWT rules', () => {
    const at = ['spec', 'jwtRules', 0];
    expectOnly(validateResource(withField(example('RequestAuthentication'), [...at, 'jwksUri'], 'ftp://example.com/jwks')), [...at, 'jwksUri'], 'must be a URL with scheme http:// or https://');
    expectOnly(validateResource(withField(example('RequestAuthentication'), [...at, 'timeout'], '0s')), [...at, 'timeout'], 'must be a valid duration greater than 1ms');
    expectOnly(validateResource(withField(example('RequestAuthentication'), [...at, 'timeout'], 'soon')), [...at, 'timeout'], 'must be a duration such as "5s" or "500ms" (got "soon")');
    expectOnly(validateResource(withField(example('RequestAuthentication'), [...at, 'jwks'], '{"keys":[]}')), at, 'only one of jwks or jwksUri can be set (got jwksUri and jwks)');
    const second = ['spec', 'jwtRules', 1, 'jwks'];
    expectOnly(validateResource(withField(example('RequestAuthentication'), second, 'not json')), second, 'must be a JSON Web Key Set (JSON)');
    expectOnly(
      validateResource(withField(example('RequestAuthentication'), [...at, 'outputClaimToHeaders', 0, 'header'], 'x jwt')),
      [...at, 'outputClaimToHeaders', 0, 'header'],
      'must be a header name of letters, digits, "-" and "_" (got "x jwt")',
    );
    const noIssuer = example('RequestAuthentication');
    delete noIssuer.spec.jwtRules[1].issuer;
    expectOnly(validateResource(noIssuer), ['spec', 'jwtRules', 1], 'missing required field "issuer" (issuer or jwksUri must be set)');
  });

  it('port-level mTLS needs a selector and real ports', () => {
    expectOnly(
      validateResource(withField(example('PeerAuthentication'), ['spec', 'selector'], undefined)),
      ['spec', 'portLevelMtls'],
      'portLevelMtls requires selector (a namespace- or mesh-wide policy cannot have port level mTLS)',
    );
    const pa = example('PeerAuthentication');
    pa.spec.portLevelMtls['70000'] = { mode: 'STRICT' };
    expectOnly(validateResource(pa), ['spec', 'portLevelMtls', '70000'], 'port must be between 1-65535');
    const named = example('PeerAuthentication');
    named.spec.portLevelMtls.http = { mode: 'STRICT' };
    expectOnly(validateResource(named), ['spec', 'portLevelMtls', 'http'], 'invalid key "http": must be a port number (got "http")');
  });
});

describe('hostile input', () => {
  it('huge strings are rejected by length, quickly', () => {
    const route = example('HTTPRoute');
    route.spec.hostnames = [`${'a'.repeat(1_000_000)}!`];
    route.spec.rules[1].matches[0].headers[0].value = `${'a'.repeat(4096)}\u0001`;
    const t0 = performance.now();
    const issues = validateResource(route);
    assert.ok(performance.now() - t0 < 3000, 'took too long');
    assert.deepEqual(issues, [
      { path: ['spec', 'hostnames', 0], message: 'must be at most 253 characters long (got 1000001)' },
      { path: ['spec', 'rules', 1, 'matches', 0, 'headers', 0, 'value'], message: 'must be at most 4096 characters long (got 4097)' },
    ]);
  });

  it('the header value pattern does not backtrack', () => {
    const route = example('HTTPRoute');
    route.spec.rules[1].matches[0].headers[0].value = `${'a '.repeat(2000)}\u0001`;
    const t0 = performance.now();
    const issues = validateResource(route);
    assert.ok(performance.now() - t0 < 3000, 'took too long');
    assert.equal(issues.length, 1);
    assert.match(issues[0].message, /^must be printable US-ASCII, optionally separated by single spaces or tabs \(got "a a a/);
  });

  it('a flood of errors is capped', () => {
    const route = example('HTTPRoute');
    route.spec.rules[1].matches = Array.from({ length: 5000 }, () => ({ path: { type: 'Nope' } }));
    const issues = validateResource(route);
    assert.equal(issues.length, 101);
    assert.deepEqual(issues[100], { path: [], message: '4901 more problems not shown' });
  });

  it('prototype-polluting keys are unknown fields and pollute nothing', () => {
    const input = JSON.parse('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","__proto__":{"polluted":true}},"data":{"constructor":"x"},"__proto__":{"polluted":true}}');
    const issues = validateResource(input);
    assert.deepEqual(issues, [
      { path: ['__proto__'], message: 'unknown field "__proto__"' },
      { path: ['metadata', '__proto__'], message: 'unknown field "__proto__"' },
    ]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('YAML aliases that make a cycle are reported, not followed forever', () => {
    const [route] = docs('apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: a}\nspec: &s\n  rules:\n  - matches: *s\n');
    expectOnly(validateResource(route), ['spec', 'rules', 0, 'matches'], 'must be a list (got a map)');
  });

  it('getters that throw do not crash the validator', () => {
    const sneaky = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } } as Record<string, unknown>;
    Object.defineProperty(sneaky, 'data', { enumerable: true, get: () => { throw new Error('boom'); } });
    expectOnly(validateResource(sneaky), [], 'could not be validated: the object is not plain data');
    const early = {} as Record<string, unknown>;
    Object.defineProperty(early, 'apiVersion', { enumerable: true, get: () => { throw new Error('boom'); } });
    expectOnly(validateResource(early), [], 'could not be validated: the object is not plain data');
    const proxy = new Proxy({}, { ownKeys: () => { throw new Error('boom'); }, get: () => { throw new Error('boom'); } });
    expectOnly(validateResource(proxy), [], 'could not be validated: the object is not plain data');
  });

  it('wrong types everywhere never throw', () => {
    const junk = [null, 0, -1, Number.POSITIVE_INFINITY, Number.NaN, 'x', '', true, [], {}, [null], { a: [] }];
    for (const k of KINDS) {
      for (const v of junk) {
        for (const field of ['spec', 'metadata', 'data', 'endpoints', 'addressType']) {
          const obj = { apiVersion: apiVersionOf(k.group, k.versions[0]), kind: k.kind, metadata: { name: 'x' }, [field]: v };
          const issues = validateResource(obj);
          assert.ok(Array.isArray(issues));
        }
      }
    }
  });

  it('semantic checks survive odd but schema-valid input', () => {
    // Every optional list empty, every optional map empty: the checks must cope with absence.
    const input = parse('apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: a}\nspec:\n  rules:\n  - matches: []\n    filters: []\n    backendRefs: []\n');
    assert.deepEqual(validateResource(input), []);
  });
});
