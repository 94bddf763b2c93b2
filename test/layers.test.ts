// The bottom layers never reach up: filters, authorizers and authenticators
// speak src/core (request context, decision, trace, replies) and src/ir, never
// the data plane; core and ir import nothing above them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]);
}

function violations(layer: string, forbidden: string[]): string[] {
  const out: string[] = [];
  for (const f of files(join(SRC, layer))) {
    for (const spec of importsOf(f)) {
      if (!spec.startsWith('.')) continue;
      const target = relative(SRC, join(f, '..', spec)).split('/')[0];
      if (forbidden.includes(target)) out.push(`${relative(SRC, f)} imports ${spec}`);
    }
  }
  return out;
}

test('filters/, authz/ and auth/ never import dataplane/', () => {
  for (const layer of ['filters', 'authz', 'auth']) assert.deepEqual(violations(layer, ['dataplane', 'cli', 'runtime', 'workers']), [], layer);
});

test('core/ and ir/ import nothing above them', () => {
  const above = ['dataplane', 'filters', 'authz', 'auth', 'translate', 'resources', 'cli', 'runtime', 'workers', 'admin', 'upstream', 'config'];
  assert.deepEqual(violations('core', above), []);
  assert.deepEqual(violations('ir', above), []);
});
