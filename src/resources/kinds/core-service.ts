// Core v1 Service (k8s.io/api core/v1 types.go; the apiserver's ValidateService).
import { type Schema, obj, arr, map, str, int, oneOfValues, resourceSchema, BOOLEAN, STRING, DNS1123_LABEL, QUALIFIED_NAME, DNS1123_SUBDOMAIN_PATTERN } from './common.ts';
import { list, has, isIPAddress, checkUniqueBy } from './check-helpers.ts';
import type { ValidationIssue } from './issues.ts';

const PROTOCOL = oneOfValues(['TCP', 'UDP', 'SCTP']);
const PORT = int(1, 65535, 'a port number from 1 to 65535');

/** IntOrString: a port number, or the name of a container port (IANA_SVC_NAME). */
const TARGET_PORT: Schema = {
  anyOf: [
    PORT,
    str({
      minLength: 1,
      maxLength: 15,
      pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$',
      description: 'a port name (at most 15 lowercase letters, digits and "-")',
    }),
  ],
};

const SERVICE_PORT: Schema = obj(
  {
    name: DNS1123_LABEL,
    protocol: PROTOCOL,
    appProtocol: STRING,
    port: PORT,
    targetPort: TARGET_PORT,
    nodePort: PORT,
  },
  ['port'],
);

export const serviceSchema: Schema = resourceSchema({
  nameRule: 'dns1035',
  fields: {
    spec: obj({
      ports: arr(SERVICE_PORT),
      selector: map(STRING, QUALIFIED_NAME),
      clusterIP: STRING,
      clusterIPs: arr(STRING, { maxItems: 2 }),
      type: oneOfValues(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']),
      externalIPs: arr(STRING),
      sessionAffinity: oneOfValues(['ClientIP', 'None']),
      sessionAffinityConfig: obj({ clientIP: obj({ timeoutSeconds: int(1, 86400, 'a number of seconds from 1 to 86400') }) }),
      loadBalancerIP: STRING,
      loadBalancerSourceRanges: arr(STRING),
      loadBalancerClass: STRING,
      externalName: STRING,
      externalTrafficPolicy: oneOfValues(['Cluster', 'Local']),
      internalTrafficPolicy: oneOfValues(['Cluster', 'Local']),
      healthCheckNodePort: PORT,
      publishNotReadyAddresses: BOOLEAN,
      ipFamilies: arr(oneOfValues(['IPv4', 'IPv6']), { maxItems: 2 }),
      ipFamilyPolicy: oneOfValues(['SingleStack', 'PreferDualStack', 'RequireDualStack']),
      allocateLoadBalancerNodePorts: BOOLEAN,
      trafficDistribution: STRING,
    }),
  },
  required: ['spec'],
});

const DNS_SUBDOMAIN = new RegExp(DNS1123_SUBDOMAIN_PATTERN);

export function checkService(svc: any, out: ValidationIssue[]): void {
  const spec = svc.spec ?? {};
  const type = spec.type ?? 'ClusterIP';
  const ports = list(spec.ports);
  if (type === 'ExternalName') {
    const name = String(spec.externalName ?? '').replace(/\.$/, '');
    if (!has(spec, 'externalName')) out.push({ path: ['spec'], message: 'missing required field "externalName" for type ExternalName' });
    else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
      out.push({ path: ['spec', 'externalName'], message: `must be a DNS name such as "db.example.com" (got "${spec.externalName}")` });
    }
  } else if (spec.clusterIP !== 'None' && ports.length === 0) {
    out.push({ path: ['spec'], message: 'missing required field "ports" (only headless and ExternalName Services may omit it)' });
  }
  if (type !== 'ExternalName' && has(spec, 'externalName')) {
    out.push({ path: ['spec', 'externalName'], message: 'can only be set when type is ExternalName' });
  }
  if (ports.length > 1) {
    ports.forEach((p, i) => {
      if (!has(p, 'name')) out.push({ path: ['spec', 'ports', i], message: 'missing required field "name" (a Service with more than one port must name each)' });
    });
  }
  checkUniqueBy(ports, (p) => p.name, ['spec', 'ports'], 'name', (n, j) => `duplicate port name "${n}" (also ports[${j}])`, out);
  checkUniqueBy(ports, (p) => `${p.port}/${p.protocol ?? 'TCP'}`, ['spec', 'ports'], 'port', (k, j) => `duplicate port ${k} (also ports[${j}])`, out);
  ports.forEach((p, i) => {
    if (typeof p.targetPort === 'string' && (!/[a-z]/.test(p.targetPort) || p.targetPort.includes('--'))) {
      out.push({ path: ['spec', 'ports', i, 'targetPort'], message: 'a port name must contain at least one letter and no "--"' });
    }
  });
  if (has(spec, 'clusterIP') && spec.clusterIP !== 'None' && spec.clusterIP !== '' && !isIPAddress(spec.clusterIP)) {
    out.push({ path: ['spec', 'clusterIP'], message: `must be an IP address, "None" or empty (got "${spec.clusterIP}")` });
  }
}
