import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitTarget } from '../src/dataplane/path.ts';

const cases: [string, string, string | null, string?][] = [
  // [mode, target, path, query]
  ['BASE', '/a/b?x=1', '/a/b', 'x=1'],
  ['BASE', '/a/./b/../c', '/a/c'],
  ['BASE', '/admin/../public', '/public'],
  ['BASE', '/public/../admin', '/admin'],
  ['BASE', '/../../etc/passwd', '/etc/passwd'],
  ['BASE', '/%61dmin', '/admin'],
  ['BASE', '/%2e%2e/admin', '/admin'],
  ['BASE', '/a%2fb', '/a%2Fb'],
  ['BASE', '/a\\b', '/a/b'],
  ['BASE', '//admin', '//admin'],
  ['BASE', '/a#frag', '/a'],
  ['BASE', '/a?q=1#frag', '/a', 'q=1'],
  ['BASE', '/bad%zz', null],
  ['BASE', '/admin%00', null],
  ['BASE', '/sp ace', null],
  ['BASE', 'http://host:8080/x/../y?z', '/y', 'z'],
  ['BASE', 'not-a-path', null],
  ['MERGE_SLASHES', '//admin///x', '/admin/x'],
  ['DECODE_AND_MERGE_SLASHES', '/admin%2Fsecret', '/admin/secret'],
  ['DECODE_AND_MERGE_SLASHES', '/admin%2f..%2fpublic', '/public'],
  ['DECODE_AND_MERGE_SLASHES', '/admin%5csecret', '/admin/secret'],
  ['NONE', '/a/../b', '/a/../b'],
];

for (const [mode, target, path, query] of cases) {
  test(`${mode} ${target}`, () => {
    const r = splitTarget(target, mode as 'BASE');
    if (path === null) assert.equal(r, null);
    else {
      assert.equal(r?.path, path);
      assert.equal(r?.query, query ?? '');
    }
  });
}
