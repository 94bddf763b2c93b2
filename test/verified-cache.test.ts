// The verified-credential cache (basic auth, hashed API keys) is a bounded LRU: a client
// whose credential is used steadily keeps its entry while one-off credentials churn the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VerifiedCache } from '../src/auth/credentials/verified-cache.ts';

test('a full cache evicts the least recently used entry, not the oldest inserted', () => {
  const c = new VerifiedCache<string>(2, 60_000);
  c.set('steady', 'alice', 0);
  c.set('once', 'bob', 0);
  assert.equal(c.get('steady', 1), 'alice');
  c.set('new', 'carol', 2);
  assert.equal(c.get('steady', 3), 'alice', 'the entry in use stays');
  assert.equal(c.get('once', 3), undefined, 'the least recently used one went');
  assert.equal(c.size, 2);
});

test('an entry past its deadline is gone, and a cache of size 0 keeps nothing', () => {
  const c = new VerifiedCache<string>(4, 100);
  c.set('k', 'v', 0);
  assert.equal(c.get('k', 100), 'v');
  assert.equal(c.get('k', 101), undefined);
  assert.equal(c.size, 0);
  const none = new VerifiedCache<string>(0, 100);
  none.set('k', 'v', 0);
  assert.equal(none.get('k', 0), undefined);
});
