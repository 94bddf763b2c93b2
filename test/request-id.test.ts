import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRequestId } from '../src/dataplane/request-id.ts';

test('request ids are RFC 9562 version-4 UUIDs, distinct across several refills of the entropy pool', () => {
  const seen = new Set<string>();
  const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  for (let i = 0; i < 20_000; i++) {
    const id = newRequestId();
    assert.match(id, v4);
    seen.add(id);
  }
  assert.equal(seen.size, 20_000);
});
