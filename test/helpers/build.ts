// Configuration text → what `validate` and `run` would make of it (resources → translate), without a socket.
import { buildFromResources, type BuildResult } from '../../src/config/pipeline.ts';
import { parseYamlResources } from '../../src/resources/load.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../../src/translate/index.ts';

export function buildYaml(text: string): BuildResult {
  return buildFromResources(parseYamlResources(text, 'policies.yaml').resources.map((r, i) => ({ ...r, seq: i })), DEFAULT_TRANSLATE_OPTIONS);
}

/** Gateway "gw" in namespace apps, for policies that target it. */
export const APPS_GATEWAY = `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: apps }
spec: { gatewayClassName: portcullis, listeners: [{ name: http, protocol: HTTP, port: 80 }] }
`;

/** A route on APPS_GATEWAY: what makes translate build the Gateway's hop. */
export const APPS_ROUTE = `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: apps }
spec: { parentRefs: [{ name: gw }], rules: [{}] }
`;
