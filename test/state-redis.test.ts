// The Redis store of global rate limits against a real redis-server: one
// budget however requests are batched, the documented key layout, and what
// an outage does (fail open / closed within the timeout, then recovery).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { RedisWindows } from '../src/state/redis-windows.ts';
import { DENIED, STORE_FAILED } from '../src/state/windows.ts';
import { parseRedisUrl, redactRedisUrl } from '../src/state/redis-url.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';

let redis: TestRedis;
const stores: RedisWindows[] = [];
const errors: Error[] = [];

function store(failClosed = false, timeoutMs = 200): RedisWindows {
  const s = new RedisWindows({ url: redis.url, timeoutMs, failClosed, prefix: 'portcullis:rl:' }, (e) => errors.push(e));
  stores.push(s);
  return s;
}

before(async () => { redis = await startRedis(); });
after(async () => {
  for (const s of stores) await s.close();
  await redis.close();
});

async function until(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('requests waiting together are covered by one reservation, up to the limit; two stores share one budget', async () => {
  // Generous timeouts: the first requests also wait for the connection (a loaded CI machine).
  const a = store(false, 2000);
  const b = store(false, 2000);
  const results = await Promise.all([
    ...Array.from({ length: 6 }, () => a.take('k1', 10, 60_000, 1)),
    ...Array.from({ length: 6 }, () => b.take('k1', 10, 60_000, 1)),
  ]);
  assert.equal(results.filter((r) => r >= 0).length, 10);
  assert.equal(results.filter((r) => r === DENIED).length, 2);
  // a's six come back with remaining 9..4 or after b's: each remaining value is given once.
  const remaining = results.filter((r) => r >= 0).sort((x, y) => x - y);
  assert.deepEqual(remaining, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('the key layout is <prefix><limit identity>:<window start in seconds>, expiring with its window', async () => {
  const a = store();
  await a.take('g|BackendTrafficPolicy/default/p|0|*|5/Minute', 5, 60_000, 2);
  const windowStart = Math.floor(Date.now() / 60_000) * 60;
  const key = `portcullis:rl:g|BackendTrafficPolicy/default/p|0|*|5/Minute:${windowStart}`;
  assert.match(await redis.command('GET', key), /\$1\r\n2\r\n/);
  const ttl = Number(/:(\d+)/.exec(await redis.command('PTTL', key))![1]);
  assert.ok(ttl > 0 && ttl <= 61_000, `ttl ${ttl}`);
});

test('cost 0 only checks; a response cost is charged without a decision', async () => {
  const a = store();
  a.add('k-cost', 3, 60_000, 3);
  await until(async () => /\$1\r\n3/.test(await redis.command('GET', `portcullis:rl:k-cost:${Math.floor(Date.now() / 60_000) * 60}`)));
  assert.equal(await a.take('k-cost', 3, 60_000, 0), 0);
  assert.equal(await a.take('k-cost', 3, 60_000, 1), DENIED);
});

test('Redis killed: fail open admits within the timeout, fail closed refuses; counting resumes when it returns', async () => {
  const open = store(false, 150);
  const closed = store(true, 150);
  assert.ok((await open.take('k-outage', 100, 60_000, 1)) >= 0);
  assert.ok((await closed.take('k-outage', 100, 60_000, 1)) >= 0);
  await redis.kill();
  const t0 = Date.now();
  // A key with no reservation left from before the outage.
  const [o, c] = await Promise.all([open.take('k-outage-2', 100, 60_000, 1), closed.take('k-outage-2', 100, 60_000, 1)]);
  assert.ok(Date.now() - t0 < 1000, 'an outage answers within the timeout, never hangs');
  assert.equal(o, 100, 'fail open admits');
  assert.equal(c, STORE_FAILED, 'fail closed refuses');
  assert.ok(open.stats.failOpen >= 1 && closed.stats.failClosed >= 1);
  assert.ok(errors.length > 0, 'the failure is reported');
  await redis.start();
  // ioredis reconnects by itself; the new (empty) server counts again.
  await until(async () => (await closed.take('k-outage-3', 100, 60_000, 1)) >= 0, 8000);
  // The fail-open store counts again too: its answers come from Redis (remaining below the limit).
  await until(async () => (await open.take('k-outage-3', 100, 60_000, 1)) < 100, 8000);
});

test('Redis URLs: single, TLS, Sentinel and Cluster are accepted; others are refused; passwords are redacted', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379/0'), { mode: 'single', url: 'redis://127.0.0.1:6379/0' });
  assert.deepEqual(parseRedisUrl('redis+sentinel://a:26379,b/mymaster'), { mode: 'sentinel', sentinels: [{ host: 'a', port: 26379 }, { host: 'b', port: 26379 }], name: 'mymaster', password: undefined, tls: false });
  assert.deepEqual(parseRedisUrl('rediss+cluster://:s3cret@n1:7000,n2:7001'), { mode: 'cluster', nodes: [{ host: 'n1', port: 7000 }, { host: 'n2', port: 7001 }], password: 's3cret', tls: true });
  assert.throws(() => parseRedisUrl('http://x'), /not a redis/);
  assert.throws(() => parseRedisUrl('redis+sentinel://a:26379'), /names the master/);
  assert.throws(() => parseRedisUrl('redis://a,b'), /several hosts/);
  assert.equal(redactRedisUrl('redis://user:s3cret@h:1'), 'redis://***@h:1');
});
