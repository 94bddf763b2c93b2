// `portcullis ca`: files, modes, refusals and messages, in a temp dir; plus one real
// child-process run of the entry point.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { runCaCommand } from '../src/cli/ca.ts';
import type { Resource } from '../src/resources/types.ts';
import type { ConfigError } from '../src/resources/errors.ts';
import { trustBundleFrom } from '../src/translate/istio/peer-authentication.ts';

let dir: string;
const secrets: string[] = []; // key material seen on disk; must never show up in output

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-ca-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCaCommand(args, { out: (t) => (out += t), err: (t) => (err += t), cwd: dir });
  for (const s of secrets) {
    assert.ok(!out.includes(s) && !err.includes(s), 'key material printed');
  }
  assert.doesNotMatch(out + err, /PRIVATE KEY|tls\.key: /);
  return { code, out, err };
}

const mode = async (p: string) => (await stat(join(dir, p))).mode & 0o777;
const read = (p: string) => readFile(join(dir, p), 'utf8');

async function rememberKey(p: string): Promise<void> {
  const pem = await read(p);
  secrets.push(pem.split('\n')[1]); // first base64 line of the key
}

test('init writes the root key 0600, the root certificate, and a cacerts Secret without any key', async () => {
  const r = await cli('init', '--dir', 'ca', '--trust-domain', 'example.org', '--root-namespace', 'mesh-root');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /trust domain example\.org/);
  await rememberKey('ca/root-key.pem');
  assert.equal(await mode('ca/root-key.pem'), 0o600);
  assert.match(await read('ca/root-key.pem'), /^-----BEGIN PRIVATE KEY-----/);
  const root = new X509Certificate(await read('ca/root-cert.pem'));
  assert.equal(root.ca, true);
  assert.equal(root.subjectAltName, 'URI:spiffe://example.org');

  const yamlText = await read('ca/cacerts.yaml');
  assert.doesNotMatch(yamlText.replace(/^#.*$/gm, ''), /KEY|key\.pem/);
  const secret = parseYaml(yamlText) as Resource;
  assert.equal(secret.kind, 'Secret');
  assert.deepEqual(secret.metadata, { name: 'cacerts', namespace: 'mesh-root' });
  assert.deepEqual(Object.keys(secret.data ?? {}), ['root-cert.pem']);
  assert.doesNotMatch(Buffer.from(secret.data!['root-cert.pem'], 'base64').toString(), /PRIVATE/);
  const errors: ConfigError[] = [];
  assert.equal(trustBundleFrom([{ resource: secret, seq: 0 }], 'mesh-root', errors), await read('ca/root-cert.pem'));
  assert.deepEqual(errors, []);
});

test('init refuses to overwrite an existing CA without --force, and replaces it with --force', async () => {
  const before = await read('ca/root-cert.pem');
  const r = await cli('init', '--dir', 'ca');
  assert.equal(r.code, 1);
  assert.match(r.err, /root-key\.pem already exists; use --force/);
  assert.equal(await read('ca/root-cert.pem'), before);
  // A leftover cacerts.yaml alone also counts as an existing CA.
  await mkdir(join(dir, 'ca2'));
  await writeFile(join(dir, 'ca2/cacerts.yaml'), '');
  assert.match((await cli('init', '--dir', 'ca2')).err, /cacerts\.yaml already exists/);
  const forced = await cli('init', '--dir', 'ca', '--force', '--trust-domain', 'example.org');
  assert.equal(forced.code, 0, forced.err);
  assert.notEqual(await read('ca/root-cert.pem'), before);
  assert.equal(await mode('ca/root-key.pem'), 0o600);
  await rememberKey('ca/root-key.pem');
  assert.deepEqual((await readdir(join(dir, 'ca'))).sort(), ['cacerts.yaml', 'root-cert.pem', 'root-key.pem'], 'no temp files left behind');
});

test('issue writes cert, 0600 key and chain, prints the SPIFFE id, and the chain verifies', async () => {
  const r = await cli('issue', '--dir', 'ca', '--namespace', 'payments', '--service-account', 'api', '--ttl', '2h', '--out', 'out/pay');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'spiffe://example.org/ns/payments/sa/api\n');
  await rememberKey('out/pay-key.pem');
  assert.equal(await mode('out/pay-key.pem'), 0o600);
  const leaf = new X509Certificate(await read('out/pay-cert.pem'));
  const root = new X509Certificate(await read('ca/root-cert.pem'));
  assert.equal(leaf.subjectAltName, 'URI:spiffe://example.org/ns/payments/sa/api');
  assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey));
  const hours = (Date.parse(leaf.validTo) - Date.now()) / 3600e3;
  assert.ok(hours > 1.9 && hours <= 2.01, `ttl ${hours}h`);
  assert.equal(await read('out/pay-chain.pem'), (await read('out/pay-cert.pem')) + (await read('ca/root-cert.pem')));
  // Default prefix: ./<ns>-<sa>; default ttl 24h; --trust-domain overrides the CA's.
  const d = await cli('issue', '--dir', 'ca', '-n', 'web', '-s', 'front.end', '--trust-domain', 'other.td');
  assert.equal(d.code, 0, d.err);
  assert.equal(d.out, 'spiffe://other.td/ns/web/sa/front.end\n');
  const w = new X509Certificate(await read('web-front.end-cert.pem'));
  assert.ok(Math.abs((Date.parse(w.validTo) - Date.now()) / 3600e3 - 24) < 0.02);
});

test('issue: clear errors with exit status 1', async () => {
  const cases: [string[], RegExp][] = [
    [['issue', '--dir', 'nope', '-n', 'a', '-s', 'b'], /no CA in .*nope .*run `portcullis ca init --dir/],
    [['issue', '--dir', 'ca', '-n', 'a', '-s', 'b', '--ttl', '24'], /invalid duration "24"/],
    [['issue', '--dir', 'ca', '-n', 'a', '-s', 'b', '--ttl', '0h'], /must be positive/],
    [['issue', '--dir', 'ca', '-n', 'a', '-s', 'b', '--ttl', '4000d'], /at most 3650d/],
    [['issue', '--dir', 'ca', '-n', 'Bad_NS', '-s', 'b'], /invalid --namespace "Bad_NS"/],
    [['issue', '--dir', 'ca', '-n', 'a/sa/admin', '-s', 'b'], /invalid --namespace/],
    [['issue', '--dir', 'ca', '-n', 'a', '-s', 'b/../c'], /invalid --service-account/],
    [['issue', '--dir', 'ca', '-n', 'a', '-s', 'b', '--trust-domain', 'Bad TD'], /invalid --trust-domain/],
    [['issue', '--dir', 'ca', '-n', 'a'], /--namespace and --service-account are required/],
    [['issue', '--dir', 'ca', '-n', 'a', '-s', 'b', '--colour'], /Unknown option '--colour'/],
    [['issue', '--dir', 'ca', '-n', 'a', '-s', 'b', 'extra'], /positional argument/],
    [['issue', '--dir', 'ca', '-n', 'a', '-s', 'b', '--ttl', '3650d'], /outlive its CA/],
    [['issue', '--dir', 'ca', '-n', 'a', '-s', 'b', '--out', ''], /empty path/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['issue-server', '--dir', 'ca'], /at least one --host or --ip/],
    [['issue-server', '--dir', 'ca', '--host', 'bad host'], /invalid hostname/],
    [['issue-server', '--dir', 'ca', '--ip', '300.1.1.1'], /invalid IP address/],
    [['issue-server', '--dir', 'ca', '--host', 'a.example', '--secret', 'Bad!'], /invalid --secret/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(...args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.err, re, args.join(' '));
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
  }
  assert.equal((await cli()).code, 1, 'no command: usage, status 1');
});

test('a damaged or mismatched CA directory is refused without printing key material', async () => {
  await cli('init', '--dir', 'bad');
  await rememberKey('bad/root-key.pem');
  await writeFile(join(dir, 'bad/root-key.pem'), 'garbage', { mode: 0o600 });
  const g = await cli('issue', '--dir', 'bad', '-n', 'a', '-s', 'b');
  assert.equal(g.code, 1);
  assert.match(g.err, /not a readable PEM private key/);
  await writeFile(join(dir, 'bad/root-key.pem'), await read('ca/root-key.pem'), { mode: 0o600 });
  const m = await cli('issue', '--dir', 'bad', '-n', 'a', '-s', 'b');
  assert.equal(m.code, 1);
  assert.match(m.err, /does not match the CA certificate/);
});

test('a group/world-readable root key gets a warning (and still works)', async () => {
  await chmod(join(dir, 'ca/root-key.pem'), 0o644);
  const r = await cli('issue', '--dir', 'ca', '-n', 'a', '-s', 'b', '--out', 'warn');
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /readable by group or others; run chmod 600/);
  await chmod(join(dir, 'ca/root-key.pem'), 0o600);
  assert.doesNotMatch((await cli('issue', '--dir', 'ca', '-n', 'a', '-s', 'b', '--out', 'warn')).err, /warning/);
});

test('issue-server: DNS and IP SANs, and an optional kubernetes.io/tls Secret for certificateRefs', async () => {
  const r = await cli('issue-server', '--dir', 'ca', '--host', 'API.Example.com', '--host', '*.example.com', '--ip', '127.0.0.1', '--out', 'gw', '--secret', 'gw-tls', '--secret-namespace', 'edge');
  assert.equal(r.code, 0, r.err);
  await rememberKey('gw-key.pem');
  const c = new X509Certificate(await read('gw-cert.pem'));
  assert.equal(c.subjectAltName, 'DNS:api.example.com, DNS:*.example.com, IP Address:127.0.0.1');
  assert.equal(await mode('gw-key.pem'), 0o600);
  assert.equal(await mode('gw-secret.yaml'), 0o600);
  const s = parseYaml(await read('gw-secret.yaml')) as Resource;
  assert.equal(s.type, 'kubernetes.io/tls');
  assert.deepEqual(s.metadata, { name: 'gw-tls', namespace: 'edge' });
  assert.equal(Buffer.from(s.data!['tls.key'], 'base64').toString(), await read('gw-key.pem'));
  assert.equal(Buffer.from(s.data!['tls.crt'], 'base64').toString(), await read('gw-chain.pem'));
  const days = (Date.parse(c.validTo) - Date.now()) / 86400e3;
  assert.ok(days > 89.9 && days < 90.1, 'default 90d');
});

test('--help on every subcommand prints usage and exits 0', async () => {
  for (const [args, re] of [[['--help'], /Commands:/], [['help'], /Commands:/], [['init', '--help'], /portcullis ca init/], [['issue', '-h'], /portcullis ca issue --namespace/], [['issue-server', '--help'], /portcullis ca issue-server --host/]] as [string[], RegExp][]) {
    const r = await cli(...args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.out, re);
  }
});

test('the entry point runs as a real process: status codes and output', async () => {
  const run = promisify(execFile);
  const node = resolve('node_modules/.bin/node');
  const entry = resolve('src/cli/ca.ts');
  const opts = { cwd: dir, timeout: 20_000 };
  const init = await run(node, [entry, 'init', '--dir', 'proc-ca'], opts);
  assert.match(init.stdout, /Created a root CA for trust domain cluster\.local/);
  const issued = await run(node, [entry, 'issue', '--dir', 'proc-ca', '-n', 'ns1', '-s', 'sa1'], opts);
  assert.equal(issued.stdout, 'spiffe://cluster.local/ns/ns1/sa/sa1\n');
  assert.doesNotMatch(issued.stdout + issued.stderr, /PRIVATE KEY/);
  await assert.rejects(run(node, [entry, 'issue', '--dir', 'missing', '-n', 'a', '-s', 'b'], opts), (e: { code: number; stderr: string }) => {
    assert.equal(e.code, 1);
    assert.match(e.stderr, /^portcullis ca issue: no CA in /);
    return true;
  });
});
