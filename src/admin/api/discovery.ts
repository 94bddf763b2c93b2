// Discovery documents (/api, /apis, /apis/{group}/{version}, /version), all
// derived from the kinds registry, so that kubectl finds every kind the
// gateway reads and only those.
import { KINDS, apiVersionOf, type KindInfo } from '../../resources/kinds/index.ts';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS_VERBS = ['get', 'patch', 'update'];

/** Kinds whose /status subresource carries the translator's conditions (every kind with a spec). */
export function hasStatus(k: KindInfo): boolean {
  return k.group !== '' && k.group !== 'discovery.k8s.io';
}

export function groups(): { name: string; versions: string[] }[] {
  const out = new Map<string, string[]>();
  for (const k of KINDS) {
    if (k.group === '') continue;
    const vs = out.get(k.group) ?? [];
    for (const v of k.versions) if (!vs.includes(v)) vs.push(v);
    out.set(k.group, vs);
  }
  return [...out].map(([name, versions]) => ({ name, versions: sortVersions(versions) }));
}

/** Kubernetes version priority: GA before beta before alpha, higher numbers first. */
function sortVersions(vs: string[]): string[] {
  const rank = (v: string) => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v);
    if (!m) return [3, 0, 0];
    return [m[2] === undefined ? 0 : m[2] === 'beta' ? 1 : 2, -Number(m[1]), -Number(m[3] ?? 0)];
  };
  return [...vs].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    return ra[0] - rb[0] || ra[1] - rb[1] || ra[2] - rb[2];
  });
}

export function kindsIn(group: string, version: string): KindInfo[] {
  return KINDS.filter((k) => k.group === group && k.versions.includes(version));
}

export function apiVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(g: { name: string; versions: string[] }) {
  const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
  return { name: g.name, versions, preferredVersion: versions[0] };
}

export function apiGroupList() {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups().map(apiGroup) };
}

export function apiGroupDoc(group: string) {
  const g = groups().find((x) => x.name === group);
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(g) } : undefined;
}

export function apiResourceList(group: string, version: string) {
  const kinds = kindsIn(group, version);
  if (kinds.length === 0) return undefined;
  const resources: object[] = [];
  for (const k of kinds) {
    resources.push({ name: k.plural, singularName: k.kind.toLowerCase(), namespaced: k.namespaced, kind: k.kind, verbs: VERBS });
    if (hasStatus(k)) resources.push({ name: `${k.plural}/status`, singularName: '', namespaced: k.namespaced, kind: k.kind, verbs: STATUS_VERBS });
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf(group, version), resources };
}

export function versionInfo(portcullisVersion: string) {
  // The Kubernetes API level this API follows; kubectl warns beyond one minor version apart.
  return {
    major: '1', minor: '32', gitVersion: `v1.32.0+portcullis-${portcullisVersion}`, gitCommit: '', gitTreeState: 'clean',
    buildDate: '', goVersion: '', compiler: 'node', platform: `${process.platform}/${process.arch}`,
  };
}
