// The management API against the Istio Security API's REST contract: the
// Kubernetes paths for security.istio.io/v1 authorizationpolicies, bodies
// whose spec is Istio's own published OpenAPI schema (vendored in
// test/fixtures, source noted there), and the 401/404/409 answers as
// Kubernetes Status objects. Every answer below is checked against it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { startManaged, type ManagedGateway } from './helpers/management.ts';
import { gatewayYaml } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';

const istio = JSON.parse(readFileSync(new URL('./fixtures/istio-authorization-policy.openapi.json', import.meta.url), 'utf8')) as { components: { schemas: Record<string, unknown> } };

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
/** The REST contract: Kubernetes' shapes for a namespaced custom resource, Istio's for its spec. */
const contract = {
  components: {
    schemas: {
      ...istio.components.schemas,
      ObjectMeta: {
        type: 'object', required: ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp'],
        properties: {
          name: { type: 'string' }, namespace: { type: 'string' }, uid: { type: 'string', minLength: 1 }, resourceVersion: { type: 'string', pattern: '^[0-9]+$' },
          generation: { type: 'integer', minimum: 1 }, creationTimestamp: { type: 'string', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$' },
          labels: { type: 'object', additionalProperties: { type: 'string' } }, annotations: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
      AuthorizationPolicy: {
        type: 'object', required: ['apiVersion', 'kind', 'metadata', 'spec'],
        properties: { apiVersion: { enum: ['security.istio.io/v1'] }, kind: { enum: ['AuthorizationPolicy'] }, metadata: ref('ObjectMeta'), spec: ref('istio.security.v1beta1.AuthorizationPolicy'), status: { type: 'object' } },
      },
      AuthorizationPolicyList: {
        type: 'object', required: ['apiVersion', 'kind', 'metadata', 'items'],
        properties: {
          apiVersion: { enum: ['security.istio.io/v1'] }, kind: { enum: ['AuthorizationPolicyList'] },
          metadata: { type: 'object', required: ['resourceVersion'], properties: { resourceVersion: { type: 'string' }, continue: { type: 'string' } } },
          items: { type: 'array', items: ref('AuthorizationPolicy') },
        },
      },
      Status: {
        type: 'object', required: ['kind', 'apiVersion', 'status', 'message', 'reason', 'code'],
        properties: { kind: { enum: ['Status'] }, apiVersion: { enum: ['v1'] }, status: { enum: ['Failure'] }, message: { type: 'string' }, reason: { type: 'string' }, code: { type: 'integer' } },
      },
    },
  },
};

const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema(contract, 'contract');
const check = (name: string, body: unknown) => {
  const v = ajv.getSchema(`contract#/components/schemas/${name}`)!;
  assert.ok(v(body), `${name}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(body)}`);
};
const statusOf = (body: unknown, code: number, reason: string) => {
  check('Status', body);
  assert.equal((body as { code: number }).code, code);
  assert.equal((body as { reason: string }).reason, reason);
};

let gw: ManagedGateway;
const base = '/apis/security.istio.io/v1/namespaces/foo/authorizationpolicies';
const policy = {
  apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'httpbin', namespace: 'foo' },
  spec: { selector: { matchLabels: { app: 'httpbin' } }, action: 'DENY', rules: [{ from: [{ source: { notNamespaces: ['foo'] } }], to: [{ operation: { methods: ['GET'] } }], when: [{ key: 'request.headers[x-token]', notValues: ['admin'] }] }] },
};

before(async () => {
  gw = await startManaged(gatewayYaml(await freePort(), {}));
});
after(async () => {
  await gw?.close();
});

test('every verb answers bodies of the contract, and 401/404/409 as Status', async () => {
  const created = await gw.api.call('POST', base, policy);
  assert.equal(created.status, 201);
  check('AuthorizationPolicy', created.body);
  const got = await gw.api.call('GET', `${base}/httpbin`);
  assert.equal(got.status, 200);
  check('AuthorizationPolicy', got.body);
  for (const path of [base, '/apis/security.istio.io/v1/authorizationpolicies']) {
    const list = await gw.api.call('GET', path);
    assert.equal(list.status, 200);
    check('AuthorizationPolicyList', list.body);
    assert.equal(list.body.items.length, 1);
  }
  const put = await gw.api.call('PUT', `${base}/httpbin`, { ...got.body, spec: { ...got.body.spec, action: 'ALLOW' } });
  assert.equal(put.status, 200);
  check('AuthorizationPolicy', put.body);

  statusOf((await gw.api.call('GET', base, undefined, { token: null })).body, 401, 'Unauthorized');
  statusOf((await gw.api.call('GET', `${base}/missing`)).body, 404, 'NotFound');
  statusOf((await gw.api.call('POST', base, policy)).body, 409, 'AlreadyExists');
  statusOf((await gw.api.call('PUT', `${base}/httpbin`, got.body)).body, 409, 'Conflict');
  const del = await gw.api.call('DELETE', `${base}/httpbin`);
  assert.equal(del.status, 200);
  check('AuthorizationPolicy', del.body);
  statusOf((await gw.api.call('DELETE', `${base}/httpbin`)).body, 404, 'NotFound');
});

test('the served OpenAPI document agrees with Istio\'s schema on every field of the spec', async () => {
  const root = await gw.api.call('GET', '/openapi/v3');
  const doc = (await gw.api.call('GET', root.body.paths['apis/security.istio.io/v1'].serverRelativeURL)).body;
  const ours = doc.components.schemas['io.istio.security.v1.AuthorizationPolicy'].properties.spec.properties;
  const theirs = (istio.components.schemas['istio.security.v1beta1.AuthorizationPolicy'] as { properties: Record<string, unknown> }).properties;
  for (const field of Object.keys(theirs)) assert.ok(field in ours, `spec.${field} is in the served schema`);
  assert.deepEqual([...ours.action.enum].sort(), [...(istio.components.schemas['istio.security.v1beta1.AuthorizationPolicy.Action'] as { enum: string[] }).enum].sort());
  const paths = Object.keys(doc.paths);
  for (const p of ['/apis/security.istio.io/v1/namespaces/{namespace}/authorizationpolicies', '/apis/security.istio.io/v1/namespaces/{namespace}/authorizationpolicies/{name}', '/apis/security.istio.io/v1/authorizationpolicies']) {
    assert.ok(paths.includes(p), p);
  }
  const one = doc.paths['/apis/security.istio.io/v1/namespaces/{namespace}/authorizationpolicies/{name}'];
  for (const verb of ['get', 'put', 'patch', 'delete']) assert.ok(one[verb].responses['401'] && one[verb].responses['404'], verb);
  assert.ok(one.put.responses['409']);
});
