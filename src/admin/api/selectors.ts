// labelSelector and fieldSelector, as the Kubernetes API parses them
// (k8s.io/apimachinery/pkg/labels and /fields): equality (=, ==, !=),
// set-based (in, notin, exists, !exists) and gt/lt for labels; fields
// metadata.name and metadata.namespace only.
import type { Resource } from '../../resources/types.ts';
import { ApiError } from './errors.ts';

export type Matcher = (r: Resource) => boolean;

const KEY = '[A-Za-z0-9][-A-Za-z0-9_./]*';
const VALUE = '[-A-Za-z0-9_.]*';
const EXISTS = new RegExp(`^(!?)\\s*(${KEY})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^()]*)\\)$`);
const COMPARE = new RegExp(`^(${KEY})\\s*(==|=|!=|>|<)\\s*(${VALUE})$`);
const SET_VALUE = new RegExp(`^${VALUE}$`);

/** Split on commas outside parentheses. */
function requirements(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(text.slice(start).trim());
  return out;
}

function labelRequirement(req: string): Matcher {
  const labels = (r: Resource) => r.metadata.labels ?? {};
  let m = SET.exec(req);
  if (m) {
    const [, key, op, list] = m;
    const values = new Set(list.split(',').map((v) => v.trim()));
    for (const v of values) if (!SET_VALUE.test(v)) throw new ApiError('BadRequest', `unable to parse requirement: invalid label value: "${v}"`);
    return op === 'in'
      ? (r) => Object.hasOwn(labels(r), key) && values.has(labels(r)[key])
      : (r) => !Object.hasOwn(labels(r), key) || !values.has(labels(r)[key]);
  }
  m = COMPARE.exec(req);
  if (m) {
    const [, key, op, value] = m;
    if (op === '=' || op === '==') return (r) => labels(r)[key] === value && Object.hasOwn(labels(r), key);
    if (op === '!=') return (r) => labels(r)[key] !== value || !Object.hasOwn(labels(r), key);
    if (!/^-?\d+$/.test(value)) throw new ApiError('BadRequest', `unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer`);
    const n = Number(value);
    return op === '>'
      ? (r) => /^-?\d+$/.test(labels(r)[key] ?? '') && Number(labels(r)[key]) > n
      : (r) => /^-?\d+$/.test(labels(r)[key] ?? '') && Number(labels(r)[key]) < n;
  }
  m = EXISTS.exec(req);
  if (m) {
    const [, not, key] = m;
    return not ? (r) => !Object.hasOwn(labels(r), key) : (r) => Object.hasOwn(labels(r), key);
  }
  throw new ApiError('BadRequest', `unable to parse requirement: "${req}" is not a label selector requirement`);
}

export function parseLabelSelector(text: string | null): Matcher | undefined {
  if (text === null || text.trim() === '') return undefined;
  const matchers = requirements(text).map((req) => {
    if (req === '') throw new ApiError('BadRequest', `unable to parse requirement: empty requirement in "${text}"`);
    return labelRequirement(req);
  });
  return (r) => matchers.every((m) => m(r));
}

const FIELDS: Record<string, (r: Resource) => string> = {
  'metadata.name': (r) => r.metadata.name,
  'metadata.namespace': (r) => r.metadata.namespace ?? '',
};

export function parseFieldSelector(text: string | null): Matcher | undefined {
  if (text === null || text.trim() === '') return undefined;
  const matchers = text.split(',').map((req): Matcher => {
    const m = /^\s*([A-Za-z.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(req);
    if (!m) throw new ApiError('BadRequest', `invalid field selector: "${req}"`);
    const [, field, op, value] = m;
    const get = FIELDS[field];
    if (!get) throw new ApiError('BadRequest', `field label not supported: ${field}`);
    return op === '!=' ? (r) => get(r) !== value : (r) => get(r) === value;
  });
  return (r) => matchers.every((m) => m(r));
}

/** The one value a fieldSelector pins metadata.name to, if any (lets a list become a get). */
export function pinnedName(text: string | null): string | undefined {
  if (!text) return undefined;
  const m = /(?:^|,)\s*metadata\.name\s*==?\s*([^,]*?)\s*(?:,|$)/.exec(text);
  return m ? m[1] : undefined;
}
