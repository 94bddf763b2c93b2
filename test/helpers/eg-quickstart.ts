// Envoy Gateway's quickstart, as its task pages assume it: Gateway "eg" with
// an HTTP listener, HTTPRoute "backend" for www.example.com → Service
// "backend" port 3000 (here an EndpointSlice pointing at a real upstream).
export function egQuickstart(port: number, upstreamPort: number, opts: { name?: string; extra?: string } = {}): string {
  const svc = opts.name ?? 'backend';
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: eg, namespace: default }
spec:
  gatewayClassName: eg
  listeners:
    - { name: http, protocol: HTTP, port: ${port} }
---
apiVersion: v1
kind: Service
metadata: { name: ${svc}, namespace: default }
spec: { ports: [{ name: http, port: 3000, targetPort: 3000 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${svc}-1, namespace: default, labels: { kubernetes.io/service-name: ${svc} } }
addressType: IPv4
ports: [{ name: http, port: ${upstreamPort} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: backend
spec:
  parentRefs:
    - name: eg
  hostnames:
    - "www.example.com"
  rules:
    - backendRefs:
        - group: ""
          kind: Service
          name: backend
          port: 3000
          weight: 1
      matches:
        - path:
            type: PathPrefix
            value: /
${opts.extra ?? ''}`;
}
