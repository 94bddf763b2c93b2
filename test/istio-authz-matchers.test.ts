// Table tests of the generic matchers the Istio authorization filter is built on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileStringMatcher, parseWildcard } from '../src/authz/string-match.ts';
import { compileIpMatcher, parseCidr, parseIPv6 } from '../src/authz/ip-match.ts';
import { compilePathTemplate, validatePathTemplate } from '../src/authz/path-template.ts';

test('Istio wildcard syntax → patterns', () => {
  assert.deepEqual(parseWildcard('*', 'nonEmpty'), { kind: 'nonEmpty' });
  assert.deepEqual(parseWildcard('*', 'present'), { kind: 'present' });
  assert.deepEqual(parseWildcard('*.example.com', 'present'), { kind: 'suffix', value: '.example.com' });
  assert.deepEqual(parseWildcard('/api/*', 'nonEmpty'), { kind: 'prefix', value: '/api/' });
  assert.deepEqual(parseWildcard('/exact', 'nonEmpty'), { kind: 'exact', value: '/exact' });
  // "**" is a suffix match on "*", as Istio generates it.
  assert.deepEqual(parseWildcard('**', 'nonEmpty'), { kind: 'suffix', value: '*' });
});

test('string matcher: exact, prefix, suffix, presence', () => {
  const cases: [string[], string | undefined, boolean][] = [
    [['abc'], 'abc', true],
    [['abc'], 'abcd', false],
    [['abc'], 'ABC', false],
    [['abc*'], 'abcdef', true],
    [['abc*'], 'abc', true],
    [['abc*'], 'xabc', false],
    [['*abc'], 'xxabc', true],
    [['*abc'], 'abcx', false],
    [['*'], 'anything', true],
    [['*'], '', false], // ".+" needs a character
    [['*'], undefined, false],
    [['a', 'b*', '*c'], 'bx', true],
    [['a', 'b*', '*c'], 'xc', true],
    [['a', 'b*', '*c'], 'x', false],
    [[], 'x', false],
  ];
  for (const [values, input, want] of cases) {
    const m = compileStringMatcher(values.map((v) => parseWildcard(v, 'nonEmpty')));
    assert.equal(m(input), want, `${JSON.stringify(values)} vs ${JSON.stringify(input)}`);
  }
});

test('string matcher: header presence matches an empty value', () => {
  const m = compileStringMatcher([parseWildcard('*', 'present')]);
  assert.equal(m(''), true);
  assert.equal(m(undefined), false);
});

test('string matcher: ignoreCase folds ASCII only', () => {
  const m = compileStringMatcher(['Example.COM', '*.Foo.org', 'API.*'].map((v) => parseWildcard(v, 'present')), { ignoreCase: true });
  assert.equal(m('example.com'), true);
  assert.equal(m('EXAMPLE.com'), true);
  assert.equal(m('a.b.FOO.ORG'), true);
  assert.equal(m('api.x'), true);
  assert.equal(m('example.co'), false);
  assert.equal(m('éxample.com'), false);
});

test('CIDR parsing: v4, v6, single addresses, bad input', () => {
  assert.deepEqual(parseCidr('10.1.2.3'), { family: 4, words: [0x0a010203], prefix: 32 });
  assert.deepEqual(parseCidr('10.1.2.3/8'), { family: 4, words: [0x0a000000], prefix: 8 });
  assert.deepEqual(parseCidr('0.0.0.0/0'), { family: 4, words: [0], prefix: 0 });
  const v6 = parseCidr('2001:db8::1/32');
  assert.ok(typeof v6 === 'object' && v6.family === 6 && v6.prefix === 32 && v6.words[0] === 0x20010db8 && v6.words[3] === 0);
  // An IPv4-mapped block is the IPv4 block it denotes.
  assert.deepEqual(parseCidr('::ffff:10.0.0.0/104'), { family: 4, words: [0x0a000000], prefix: 8 });
  for (const bad of ['', '10.0.0.256', '10.0.0', '10.0.0.1/33', '01.2.3.4', '1.2.3.4/', '1.2.3.4/-1', '1.2.3.4/08', 'abc', '::1/129', '1:::2', 'fe80::1%eth0', '10.0.0.0/8/8', ' 10.0.0.1']) {
    assert.equal(typeof parseCidr(bad), 'string', `should refuse ${JSON.stringify(bad)}`);
  }
});

test('IPv6 parsing: compression, embedded IPv4, malformed', () => {
  const w = [0, 0, 0, 0];
  const ok: [string, number[]][] = [
    ['::', [0, 0, 0, 0]],
    ['::1', [0, 0, 0, 1]],
    ['1::', [0x00010000, 0, 0, 0]],
    ['2001:db8:0:0:0:0:0:1', [0x20010db8, 0, 0, 1]],
    ['2001:DB8::8:800:200C:417A', [0x20010db8, 0, 0x00080800, 0x200c417a]],
    ['::ffff:192.0.2.1', [0, 0, 0xffff, 0xc0000201]],
  ];
  for (const [s, words] of ok) {
    assert.equal(parseIPv6(s, w), true, s);
    assert.deepEqual(w, words, s);
  }
  for (const bad of [':', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', '::1:', 'g::', '1::2::3', '::1.2.3', '1:2:3:4:5:6:7:1.2.3.4']) {
    assert.equal(parseIPv6(bad, w), false, bad);
  }
});

test('IP matcher: blocks, single IPs, v4-mapped clients, garbage', () => {
  const { matcher: m, errors } = compileIpMatcher(['1.2.3.4', '5.6.7.0/24', '10.0.0.0/8', '2001:db8::/32', '::1']);
  assert.deepEqual(errors, []);
  const cases: [string | undefined, boolean][] = [
    ['1.2.3.4', true],
    ['1.2.3.5', false],
    ['5.6.7.200', true],
    ['5.6.8.1', false],
    ['10.255.255.255', true],
    ['11.0.0.0', false],
    ['::ffff:5.6.7.8', true], // what a dual-stack socket reports for an IPv4 client
    ['::ffff:1.2.3.5', false],
    ['2001:db8:ffff::1', true],
    ['2001:db9::1', false],
    ['::1', true],
    ['::2', false],
    ['', false],
    [undefined, false],
    ['not-an-ip', false],
    ['1.2.3.4.5', false],
    ['1.2.3.4%lo', false],
  ];
  for (const [ip, want] of cases) assert.equal(m.has(ip), want, String(ip));
  const { matcher: all } = compileIpMatcher(['0.0.0.0/0']);
  assert.equal(all.has('8.8.8.8'), true);
  assert.equal(all.has('::ffff:8.8.8.8'), true);
  assert.equal(all.has('2001:db8::1'), false);
  const { errors: bad } = compileIpMatcher(['300.1.1.1', '1.1.1.1/40']);
  assert.equal(bad.length, 2);
});

test('path templates: validation as Istio', () => {
  for (const ok of ['/foo/{*}', '/foo/{**}', '/{*}/bar/{*}', '/{**}/manifest.mpd', '/foo/{*}/{**}', '/plain', '/foo*', '*.html']) {
    assert.equal(validatePathTemplate(ok), undefined, ok);
  }
  for (const bad of ['/foo/{**}/{*}', '/foo/{**}/{**}', '/foo/{*}.txt', '/foo/{bar}', 'foo/{*}', '/foo//{*}', '/a b/{*}']) {
    assert.equal(typeof validatePathTemplate(bad), 'string', bad);
  }
});

test('path templates: {*} is one segment, {**} any number', () => {
  const cases: [string, string, boolean][] = [
    ['/foo/{*}', '/foo/bar', true],
    ['/foo/{*}', '/foo/bar/baz', false],
    ['/foo/{*}', '/foo/', false],
    ['/foo/{*}', '/foo', false],
    ['/foo/{**}', '/foo/', true],
    ['/foo/{**}', '/foo/a/b/c', true],
    ['/foo/{**}', '/foo', false],
    ['/foo/{**}', '/foobar', false],
    ['/{*}/bar/{*}', '/x/bar/y', true],
    ['/{*}/bar/{*}', '/x/y/bar/z', false],
    ['/{**}/manifest.mpd', '/a/b/manifest.mpd', true],
    ['/{**}/manifest.mpd', '/a/b/manifestXmpd', false],
    ['/foo/{*}', '/foo/a%2Fb', true],
    ['/foo/{*}', '/foo/a*b', false], // "*" is not a pchar in Envoy's template grammar
  ];
  for (const [tpl, path, want] of cases) assert.equal(compilePathTemplate(tpl).matches(path), want, `${tpl} vs ${path}`);
});
