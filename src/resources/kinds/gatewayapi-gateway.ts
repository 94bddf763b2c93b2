// GatewayClass and Gateway (gateway.networking.k8s.io/v1, gateway_types.go
// and gatewayclass_types.go), standard + experimental channel.
import { type Static, obj, arr, map, str, oneOfValues, resourceSchema, specResourceSchema, LABEL_SELECTOR, patterned } from './common.ts';
import {
  GROUP, KIND, OBJECT_NAME, NAMESPACE, SECTION_NAME, HOSTNAME, HOSTNAME_PATTERN, PORT_NUMBER, GATEWAY_CONTROLLER,
  ANNOTATION_KEY, ANNOTATION_VALUE, SECRET_OBJECT_REFERENCE, OBJECT_REFERENCE, LABEL_MAP_8, ANNOTATION_MAP_16,
} from './gatewayapi-types.ts';
import { list, has, isIPAddress, checkUniqueBy, checkLabelSelector } from './check-helpers.ts';
import type { ValidationIssue } from './issues.ts';

const PROTOCOL = patterned(
  255,
  '^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9]+$',
  'a protocol such as HTTP, HTTPS, TLS, TCP or UDP, or a domain-prefixed name such as "example.com/proto"',
);

const ADDRESS_TYPE = patterned(
  253,
  "^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9\\/\\-._~%!$&'()*+,;=:]+$",
  'IPAddress, Hostname, or a domain-prefixed type such as "example.com/custom"',
);

const HOSTNAME_VALUE = new RegExp(HOSTNAME_PATTERN);

const FRONTEND_TLS_VALIDATION = obj(
  {
    caCertificateRefs: arr(OBJECT_REFERENCE, { minItems: 1, maxItems: 8 }),
    mode: oneOfValues(['AllowValidOnly', 'AllowInsecureFallback']),
  },
  ['caCertificateRefs'],
);

const TLS_CONFIG = obj({ validation: FRONTEND_TLS_VALIDATION });

const LISTENER_TLS = obj({
  mode: oneOfValues(['Terminate', 'Passthrough']),
  certificateRefs: arr(SECRET_OBJECT_REFERENCE, { maxItems: 64 }),
  options: map(ANNOTATION_VALUE, ANNOTATION_KEY, { maxProperties: 16 }),
  // Experimental in v1.2/v1.3 (GEP-91) before it moved to spec.tls.frontend; still accepted.
  frontendValidation: obj({ caCertificateRefs: arr(OBJECT_REFERENCE, { minItems: 1, maxItems: 8 }) }),
});

const ALLOWED_ROUTES = obj({
  namespaces: obj({ from: oneOfValues(['All', 'Selector', 'Same']), selector: LABEL_SELECTOR }),
  kinds: arr(obj({ group: GROUP, kind: KIND }, ['kind']), { maxItems: 8 }),
});

const LISTENER = obj(
  { name: SECTION_NAME, hostname: HOSTNAME, port: PORT_NUMBER, protocol: PROTOCOL, tls: LISTENER_TLS, allowedRoutes: ALLOWED_ROUTES },
  ['name', 'port', 'protocol'],
);

const GATEWAY_SPEC = obj(
  {
    gatewayClassName: OBJECT_NAME,
    listeners: arr(LISTENER, { minItems: 1, maxItems: 64 }),
    addresses: arr(obj({ type: ADDRESS_TYPE, value: str({ maxLength: 253 }) }), { maxItems: 16 }),
    infrastructure: obj({
      labels: LABEL_MAP_8,
      annotations: ANNOTATION_MAP_16,
      parametersRef: obj({ group: GROUP, kind: KIND, name: str({ minLength: 1, maxLength: 253 }) }, ['group', 'kind', 'name']),
    }),
    allowedListeners: obj({
      namespaces: obj({ from: oneOfValues(['All', 'Selector', 'Same', 'None']), selector: LABEL_SELECTOR }),
    }),
    tls: obj({
      backend: obj({ clientCertificateRef: SECRET_OBJECT_REFERENCE }),
      frontend: obj(
        {
          default: TLS_CONFIG,
          perPort: arr(obj({ port: PORT_NUMBER, tls: TLS_CONFIG }, ['port', 'tls']), { maxItems: 64 }),
        },
        ['default'],
      ),
    }),
    // Experimental in v1.3 before it moved to spec.tls.backend; still accepted.
    backendTLS: obj({ clientCertificateRef: SECRET_OBJECT_REFERENCE }),
  },
  // gatewayClassName is required in Kubernetes; standalone there is no class
  // controller to pick a Gateway up, so it may be left out (--gateway-class
  // then skips the Gateway, as a controller of another class would).
  ['listeners'],
);

export const gatewayClassSchema = resourceSchema({
  fields: {
    spec: obj(
      {
        controllerName: GATEWAY_CONTROLLER,
        parametersRef: obj(
          { group: GROUP, kind: KIND, name: str({ minLength: 1, maxLength: 253 }), namespace: NAMESPACE },
          ['group', 'kind', 'name'],
        ),
        description: str({ maxLength: 64 }),
      },
      ['controllerName'],
    ),
  },
  required: ['spec'],
});

/** A Gateway spec that passed validation (translate reads it through these types). */
export type GatewaySpec = Static<typeof GATEWAY_SPEC>;
export type GatewayListener = Static<typeof LISTENER>;

export const gatewaySchema = specResourceSchema(GATEWAY_SPEC);

function protocolIs(listener: any, ...names: string[]): boolean {
  const p = String(listener.protocol).toUpperCase();
  return names.includes(p);
}

/** The CEL rules of the Gateway CRD, plus what an HTTPS listener needs to serve at all. */
export function checkGateway(gw: any, out: ValidationIssue[]): void {
  const listeners = list(gw.spec?.listeners);
  const base = ['spec', 'listeners'];

  checkUniqueBy(listeners, (l) => l.name, base, 'name', (name, first) =>
    `Listener name must be unique within the Gateway ("${name}" is also listeners[${first}].name)`, out);

  const combos = new Map<string, number>();
  listeners.forEach((l, i) => {
    const key = `${l.port}\u0000${l.protocol}\u0000${l.hostname ?? ''}`;
    const first = combos.get(key);
    if (first === undefined) combos.set(key, i);
    else if (listeners[first].name !== l.name) {
      out.push({ path: [...base, i], message: `Combination of port, protocol and hostname must be unique for each listener (same as listeners[${first}])` });
    }

    const at = [...base, i];
    if (has(l, 'tls') && protocolIs(l, 'HTTP', 'TCP', 'UDP')) {
      out.push({ path: [...at, 'tls'], message: `tls must not be specified for protocol ${l.protocol}` });
    }
    if (protocolIs(l, 'HTTPS')) {
      if (!has(l, 'tls')) out.push({ path: at, message: 'tls is required for protocol HTTPS (certificateRefs to serve)' });
      else if (has(l.tls, 'mode') && l.tls.mode !== 'Terminate') {
        out.push({ path: [...at, 'tls', 'mode'], message: 'tls mode must be Terminate for protocol HTTPS' });
      }
    }
    if (protocolIs(l, 'TLS') && !has(l.tls, 'mode')) {
      out.push({ path: has(l, 'tls') ? [...at, 'tls'] : at, message: 'tls mode must be set for protocol TLS' });
    }
    if (has(l, 'hostname') && protocolIs(l, 'TCP', 'UDP')) {
      out.push({ path: [...at, 'hostname'], message: `hostname must not be specified for protocol ${l.protocol}` });
    }
    if (has(l, 'hostname') && isIPAddress(l.hostname)) {
      out.push({ path: [...at, 'hostname'], message: 'must be a hostname, not an IP address' });
    }
    if (has(l, 'tls') && (l.tls.mode ?? 'Terminate') === 'Terminate') {
      const certs = list(l.tls.certificateRefs).length;
      const options = Object.keys(l.tls.options ?? {}).length;
      if (certs === 0 && options === 0) {
        out.push({ path: [...at, 'tls'], message: 'certificateRefs or options must be specified when mode is Terminate' });
      }
    }
    const ns = l.allowedRoutes?.namespaces;
    if (ns?.from === 'Selector' && !has(ns, 'selector')) {
      out.push({ path: [...at, 'allowedRoutes', 'namespaces'], message: 'selector must be specified when from is Selector' });
    }
    if (has(ns, 'selector')) checkLabelSelector(ns.selector, [...at, 'allowedRoutes', 'namespaces', 'selector'], out);
  });

  const addresses = list(gw.spec?.addresses);
  const seen = new Map<string, number>();
  addresses.forEach((a, i) => {
    const type = a.type ?? 'IPAddress';
    const at = ['spec', 'addresses', i, 'value'];
    if (!has(a, 'value')) return;
    if (type === 'IPAddress' && !isIPAddress(a.value)) out.push({ path: at, message: `must be an IP address for type IPAddress (got "${a.value}")` });
    if (type === 'Hostname' && !HOSTNAME_VALUE.test(a.value)) out.push({ path: at, message: `must be a lowercase hostname for type Hostname (got "${a.value}")` });
    if (type === 'IPAddress' || type === 'Hostname') {
      const key = `${type}\u0000${a.value}`;
      const first = seen.get(key);
      if (first === undefined) seen.set(key, i);
      else out.push({ path: at, message: `${type} values must be unique (same as addresses[${first}])` });
    }
  });

  const perPort = list(gw.spec?.tls?.frontend?.perPort);
  checkUniqueBy(perPort, (p) => String(p.port), ['spec', 'tls', 'frontend', 'perPort'], 'port', (port, first) =>
    `Port for TLS configuration must be unique within the Gateway (port ${port} is also perPort[${first}])`, out);

  const allowedListeners = gw.spec?.allowedListeners?.namespaces;
  if (has(allowedListeners, 'selector')) checkLabelSelector(allowedListeners.selector, ['spec', 'allowedListeners', 'namespaces', 'selector'], out);
}
