// Kubernetes mode: one Portcullis reads its configuration from a Kubernetes
// API server through list and watch — here another Portcullis's management
// API, over HTTPS with its CA and a bearer token, as a cluster would be.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gatewayYaml, routeTo } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { startManaged, until, denyPolicy, POLICIES_PATH as AP, type ManagedGateway } from './helpers/management.ts';
import { statusAt } from './helpers/requests.ts';

let server: ManagedGateway;
let follower: ManagedGateway;
let up: Upstream;
let port: number;

const status = (path: string) => statusAt(port, path);

before(async () => {
  up = await startUpstream('v1');
  // The "cluster": an API server holding the routes and policies. What its own file defines is listed too
  // (a follower sees everything the server lists), so that file holds only a Namespace.
  server = await startManaged('apiVersion: v1\nkind: Namespace\nmetadata: { name: cluster-files }\n');
  port = await freePort();
  const ca = await readFile(join(server.dataDir, 'admin-tls', 'ca.crt'), 'utf8');
  // The follower's own file holds only its Gateway and Backend; the route comes from the cluster.
  follower = await startManaged(gatewayYaml(port, { v1: up.port }), {
    store: 'kubernetes', kubeServer: server.adminUrl.replace('http://', 'https://'), kubeToken: server.token, kubeCa: ca,
  });
  const route = (await import('yaml')).parse(routeTo('v1').replace(/^---\n/, ''));
  assert.equal((await server.api.call('POST', '/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes', route)).status, 201);
});

after(async () => {
  await follower?.close();
  await server?.close();
  await up?.close();
});

test('objects created on the API server reach the follower through its watch, within a second', async () => {
  await until('the route from the cluster', async () => (await status('/x')) === 200);
  // Warm-up: the first policy loads the authorization filter's code (lazily, per process); time the next one.
  assert.equal((await server.api.call('POST', AP, denyPolicy('warm', '/warm'))).status, 201);
  await until('the warm-up policy', async () => (await status('/warm')) === 403);
  const t0 = Date.now();
  assert.equal((await server.api.call('POST', AP, denyPolicy('from-cluster', '/blocked'))).status, 201);
  await until('the policy from the cluster', async () => (await status('/blocked')) === 403);
  assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms`);
  const t1 = Date.now();
  assert.equal((await server.api.call('DELETE', `${AP}/from-cluster`)).status, 200);
  await until('the deletion', async () => (await status('/blocked')) === 200);
  assert.ok(Date.now() - t1 < 1000);
});

test('the follower serves what it read, read-only: writes are refused and point at the API server', async () => {
  await server.api.call('POST', AP, denyPolicy('visible', '/v'));
  const got = await until('the follower to list it', async () => {
    const r = await follower.api.call('GET', AP);
    return r.body.items?.some((i: { metadata: { name: string } }) => i.metadata.name === 'visible') ? r : undefined;
  });
  assert.equal(got.status, 200);
  const w = await follower.api.call('POST', AP, denyPolicy('local', '/l'));
  assert.equal(w.status, 405);
  assert.match(w.body.message, /Kubernetes API server/);
});

test('a wrong token for the API server stops the start with a clear error', async () => {
  await assert.rejects(
    startManaged(gatewayYaml(await freePort(), {}), {
      store: 'kubernetes', kubeServer: server.adminUrl, kubeToken: 'wrong-token-0123456789',
    }),
    /HTTP 401/,
  );
});
