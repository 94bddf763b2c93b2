// Route regexes (path, header, query) run in linear time (RE2), over real
// sockets: inputs that take V8's backtracking engine seconds each are answered
// at once, and the worker keeps serving everyone else meanwhile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway, gatewayYaml, beRef, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { routeYaml } from './helpers/yaml.ts';

let gw: TestGateway;
let up: Upstream;
let base: string;

// 27 letters then a mismatch: V8 needs about 5 s for each (doubling per letter).
const EVIL = 'a'.repeat(27) + '!';

before(async () => {
  up = await startUpstream('up');
  const port = await freePort();
  const routes = routeYaml('re', `- matches: [{ path: { type: RegularExpression, value: "/re/([a-z]+/?)+" } }]
  filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-rule, value: path } ] } }]
  backendRefs: [${beRef('up')}]
- matches: [{ path: { type: PathPrefix, value: /h }, headers: [{ type: RegularExpression, name: x-tag, value: "([a-z]+-?)+" }] }]
  filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-rule, value: header } ] } }]
  backendRefs: [${beRef('up')}]
- matches: [{ path: { type: PathPrefix, value: /q }, queryParams: [{ type: RegularExpression, name: tags, value: "([a-z]+,?)+" }] }]
  filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-rule, value: query } ] } }]
  backendRefs: [${beRef('up')}]
- matches: [{ path: { type: PathPrefix, value: / } }]
  filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-rule, value: plain } ] } }]
  backendRefs: [${beRef('up')}]`);
  gw = await startGateway(gatewayYaml(port, { up: up.port }, routes));
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  await gw?.close();
  await up?.close();
});

async function rule(path: string, headers: Record<string, string> = {}): Promise<{ rule: string; ms: number }> {
  const t = performance.now();
  const r = await request(base + path, { headers, signal: AbortSignal.timeout(60_000) });
  const body = (await r.body.json()) as { headers: Record<string, string> };
  assert.equal(r.statusCode, 200);
  return { rule: body.headers['x-rule'], ms: performance.now() - t };
}

test('the regexes still route what they match (RE2, whole value)', async () => {
  assert.equal((await rule('/re/abc/def/')).rule, 'path');
  assert.equal((await rule('/re/abc/def/x1')).rule, 'plain', 'the whole path must match');
  assert.equal((await rule('/h', { 'x-tag': 'blue-green' })).rule, 'header');
  assert.equal((await rule('/h', { 'x-tag': 'Blue' })).rule, 'plain');
  assert.equal((await rule('/q?tags=a,b,c')).rule, 'query');
  assert.equal((await rule('/q?tags=a;b')).rule, 'plain');
});

test('catastrophic-backtracking inputs on path, header and query are answered at once, and others are served meanwhile', async () => {
  const evil = [rule(`/re/${EVIL}`), rule('/h', { 'x-tag': EVIL }), rule(`/q?tags=${EVIL}`)];
  const bystander = rule('/plain');
  const answers = await Promise.all(evil);
  for (const a of answers) {
    assert.equal(a.rule, 'plain', 'no regex matches, so the catch-all route answers');
    assert.ok(a.ms < 1000, `answered in ${a.ms.toFixed(0)} ms`);
  }
  const b = await bystander;
  assert.equal(b.rule, 'plain');
  assert.ok(b.ms < 1000, `a plain request waited ${b.ms.toFixed(0)} ms behind the regex ones`);
});
