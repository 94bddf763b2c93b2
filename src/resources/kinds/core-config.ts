// Core v1 Secret, ConfigMap and Namespace, as the apiserver validates them
// (k8s.io/kubernetes pkg/apis/core/validation).
import { type Schema, obj, arr, map, str, resourceSchema, BOOLEAN, STRING, patterned } from './common.ts';
import { entries, has } from './check-helpers.ts';
import type { FieldPath, ValidationIssue } from './issues.ts';

/** Secret and ConfigMap keys (IsConfigMapKey): no "." or "..", nor a leading "..". */
const DATA_KEY: Schema = patterned(
  253,
  '^(?!\\.{1,2}$)(?!\\.\\.)[-._a-zA-Z0-9]+$',
  'a key of letters, digits, "-", "_" or "." (not "." or "..", not starting with "..")',
);

export const secretSchema: Schema = resourceSchema({
  fields: {
    type: str({ maxLength: 253 }),
    data: map(STRING, DATA_KEY),
    stringData: map(STRING, DATA_KEY),
    immutable: BOOLEAN,
  },
});

export const configMapSchema: Schema = resourceSchema({
  fields: {
    data: map(STRING, DATA_KEY),
    binaryData: map(STRING, DATA_KEY),
    immutable: BOOLEAN,
  },
});

export const namespaceSchema: Schema = resourceSchema({
  nameRule: 'label',
  fields: { spec: obj({ finalizers: arr(STRING) }) },
});

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const MAX_TOTAL_BYTES = 1024 * 1024;

/** Decoded length of a standard (padded) base64 string, or -1 if it is not one. Newlines are skipped, as Go's decoder does. */
function base64Length(value: string): number {
  const s = value.replace(/[\r\n]/g, '');
  if (s.length % 4 !== 0 || !BASE64.test(s)) return -1;
  const padding = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - padding;
}

/**
 * Values of `data`/`binaryData` must be base64. Messages name the key, never
 * the value: these are secrets.
 */
function checkBase64Map(m: unknown, path: FieldPath, out: ValidationIssue[]): number {
  let total = 0;
  for (const [key, value] of entries(m)) {
    const n = base64Length(String(value));
    if (n < 0) out.push({ path: [...path, key], message: 'must be base64-encoded (standard alphabet, with padding); use stringData for plain text' });
    else total += n;
  }
  return total;
}

function textBytes(m: unknown): number {
  let total = 0;
  for (const [, value] of entries(m)) total += Buffer.byteLength(String(value));
  return total;
}

/** Keys a typed Secret must carry (ValidateSecret). */
const REQUIRED_KEYS: Record<string, { keys: string[]; any?: boolean }> = {
  'kubernetes.io/tls': { keys: ['tls.crt', 'tls.key'] },
  'kubernetes.io/basic-auth': { keys: ['username', 'password'], any: true },
  'kubernetes.io/ssh-auth': { keys: ['ssh-privatekey'] },
  'kubernetes.io/dockerconfigjson': { keys: ['.dockerconfigjson'] },
  'kubernetes.io/dockercfg': { keys: ['.dockercfg'] },
};

export function checkSecret(secret: any, out: ValidationIssue[]): void {
  const total = checkBase64Map(secret.data, ['data'], out) + textBytes(secret.stringData);
  if (total > MAX_TOTAL_BYTES) out.push({ path: [], message: `data must have at most ${MAX_TOTAL_BYTES} bytes in total (got ${total})` });
  const rule = REQUIRED_KEYS[secret.type];
  if (!rule) return;
  const present = (k: string) => has(secret.data, k) || has(secret.stringData, k);
  if (rule.any) {
    if (!rule.keys.some(present)) out.push({ path: ['data'], message: `a ${secret.type} Secret needs at least one of the keys ${rule.keys.map((k) => `"${k}"`).join(', ')}` });
    return;
  }
  for (const k of rule.keys) {
    if (!present(k)) out.push({ path: ['data'], message: `missing required key "${k}" for type ${secret.type}` });
  }
}

export function checkConfigMap(cm: any, out: ValidationIssue[]): void {
  const total = textBytes(cm.data) + checkBase64Map(cm.binaryData, ['binaryData'], out);
  if (total > MAX_TOTAL_BYTES) out.push({ path: [], message: `data must have at most ${MAX_TOTAL_BYTES} bytes in total (got ${total})` });
  for (const [key] of entries(cm.binaryData)) {
    if (has(cm.data, key)) out.push({ path: ['binaryData', key], message: `duplicate of key "${key}" in data` });
  }
}
