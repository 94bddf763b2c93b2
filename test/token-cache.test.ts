// The verified-token cache's recency: a hit moves its entry to the young end
// only once it has aged (a quarter of the capacity of insertions since), so a
// token in steady use is never evicted and an unused one still is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache } from '../src/auth/jwt/token-cache.ts';

const FAR = Number.MAX_SAFE_INTEGER;

test('an aged entry that is hit is kept; the eldest unused one is evicted', () => {
  const c = new TokenCache<string>(8);
  for (const k of 'abcdefgh') c.set(k, k, FAR);
  // 'a' was inserted 7 insertions ago (≥ 8/4): the hit makes it the youngest.
  assert.equal(c.get('a', 0), 'a');
  c.set('i', 'i', FAR);
  assert.equal(c.get('b', 0), undefined, "'b' is now the eldest and goes");
  assert.equal(c.get('a', 0), 'a');
  assert.equal(c.size, 8);
});

test('a token hit once per few insertions survives a stream of one-off tokens many times the capacity', () => {
  const c = new TokenCache<number>(16);
  c.set('steady', 0, FAR);
  for (let i = 0; i < 1000; i++) {
    c.set(`once-${i}`, i, FAR);
    if (i % 8 === 0) assert.equal(c.get('steady', 0), 0, `steady still cached after ${i} one-off tokens`);
  }
  assert.equal(c.get('once-0', 0), undefined, 'the one-off tokens age out');
  assert.equal(c.size, 16);
});

test('a recent entry is not moved by a hit: it is still evicted in turn once nothing hits it', () => {
  const c = new TokenCache<string>(8);
  for (const k of 'abcdefgh') c.set(k, k, FAR);
  // 'h' is the youngest: a hit leaves it in place (and must not matter for it).
  assert.equal(c.get('h', 0), 'h');
  for (const k of 'ijklmnop') c.set(k, k, FAR);
  for (const k of 'abcdefgh') assert.equal(c.get(k, 0), undefined, `${k} evicted`);
});

test('an entry is never served after its deadline, moved or not', () => {
  const c = new TokenCache<string>(4);
  c.set('t', 'v', 100);
  assert.equal(c.get('t', 100), 'v');
  assert.equal(c.get('t', 101), undefined);
  assert.equal(c.size, 0);
});
