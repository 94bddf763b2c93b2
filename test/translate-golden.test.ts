// Golden tests for translate: testdata/translate/<case>.yaml goes through the
// real path (load → validate → translate, as `run` does) and the IR snapshot,
// its status and every error are compared with <case>.ir.json.
//
//   npm run golden:update    # rewrite the .ir.json files after an intended change,
//                            # then review their diff like code
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildFromPaths } from '../src/config/pipeline.ts';
import { formatError } from '../src/resources/errors.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DIR = join(REPO, 'testdata', 'translate');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** What a golden file holds: stable (no generatedAt; paths relative to the repo). */
async function golden(file: string): Promise<string> {
  const built = await buildFromPaths([file], DEFAULT_TRANSLATE_OPTIONS);
  // The snapshot as translate made it, even when errors keep it from serving (its status says why).
  const { generatedAt: _, ...snapshot } = built.translated;
  const out = {
    serves: built.snapshot !== undefined,
    errors: built.errors.map(formatError),
    policyErrors: built.policyErrors.map(formatError),
    snapshot,
  };
  return JSON.stringify(out, null, 2).replaceAll(REPO, '') + '\n';
}

const cases = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();

test('there are golden cases', () => assert.ok(cases.length >= 8, `${cases.length} cases in ${DIR}`));

for (const c of cases) {
  test(`translate golden: ${c}`, async () => {
    const want = join(DIR, c.replace(/\.yaml$/, '.ir.json'));
    const got = await golden(join(DIR, c));
    if (UPDATE) {
      writeFileSync(want, got);
      return;
    }
    assert.ok(existsSync(want), `${want} is missing: run npm run golden:update and review it`);
    assert.equal(got, readFileSync(want, 'utf8'), `${c}: translate output changed; if intended, npm run golden:update and review the diff`);
  });
}
