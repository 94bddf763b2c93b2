// Client certificates on the admin API (--admin-tls-cert/-key, --admin-client-ca):
// a certificate signed by the client CA authenticates as its CN; one from
// another CA, or none, is 401. Real TLS, certificates made here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { makeCa, issueLocalhostCert, issueClientCert } from './helpers/certs.ts';
import { gatewayYaml } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { startManaged, type ManagedGateway } from './helpers/management.ts';

let gw: ManagedGateway;
let serverCa: string;
let good: { certPem: string; keyPem: string };
let stranger: { certPem: string; keyPem: string };
const AP = '/apis/security.istio.io/v1/namespaces/default/authorizationpolicies';

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-admin-certs-'));
  const [sca, cca, other] = await Promise.all([makeCa(), makeCa({ commonName: 'clients' }), makeCa({ commonName: 'someone else' })]);
  const server = await issueLocalhostCert(sca);
  good = await issueClientCert(cca, { commonName: 'alice' });
  stranger = await issueClientCert(other, { commonName: 'mallory' });
  serverCa = sca.certPem;
  await writeFile(join(dir, 'server.crt'), server.chainPem);
  await writeFile(join(dir, 'server.key'), server.keyPem);
  await writeFile(join(dir, 'clients.crt'), cca.certPem);
  gw = await startManaged(gatewayYaml(await freePort(), {}), { tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), clientCa: join(dir, 'clients.crt') } });
});

after(async () => {
  await gw?.close();
});

async function call(method: string, client?: { certPem: string; keyPem: string }, body?: unknown) {
  const agent = new Agent({ connect: { ca: serverCa, servername: 'localhost', ...(client ? { cert: client.certPem, key: client.keyPem } : {}) } });
  try {
    const r = await request(gw.adminUrl.replace('http://127.0.0.1', 'https://localhost') + AP, {
      method: method as 'GET', dispatcher: agent, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' },
    });
    return { status: r.statusCode, body: (await r.body.json()) as any };
  } finally {
    await agent.close();
  }
}

test('a client certificate from the client CA authenticates as its CN; the audit log names it', async () => {
  assert.equal((await call('GET', good)).status, 200);
  const created = await call('POST', good, {
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'by-cert' },
    spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/x'] } }] }] },
  });
  assert.equal(created.status, 201);
  const audit = JSON.parse((await readFile(join(gw.dataDir, 'audit.log'), 'utf8')).trim().split('\n').at(-1)!);
  assert.equal(audit.user, 'alice');
  assert.equal(audit.authenticatedBy, 'certificate');
});

test('a certificate from another CA, or no credentials at all, is 401 Unauthorized', async () => {
  const r = await call('GET', stranger);
  assert.equal(r.status, 401);
  assert.equal(r.body.reason, 'Unauthorized');
  assert.equal((await call('GET')).status, 401);
  // plain HTTP on the same port still answers health
  const h = await request(gw.adminUrl + '/healthz');
  assert.equal(h.statusCode, 200);
  await h.body.dump();
});
