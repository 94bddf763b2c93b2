// Reads YAML files and directories the way `kubectl apply -f` does:
// multi-document files, directories recursively (.yaml/.yml/.json), and
// `kind: List` wrappers. Each resource keeps where it came from.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, extname } from 'node:path';
import { parseAllDocuments, isMap, isSeq, isScalar, type Document, type Node as YamlNode } from 'yaml';
import jsyaml from 'js-yaml';
import type { LoadedResource, Resource, SourceRef } from './types.ts';
import type { ConfigError } from './errors.ts';

const YAML_EXT = new Set(['.yaml', '.yml', '.json']);

export interface LoadResult {
  resources: LoadedResource[];
  errors: ConfigError[];
  files: string[];
}

/** Expand files and directories (recursively, sorted) to the list of config files. */
export async function listConfigFiles(paths: readonly string[]): Promise<{ files: string[]; errors: ConfigError[] }> {
  const files: string[] = [];
  const errors: ConfigError[] = [];
  for (const p of paths) {
    let st;
    try {
      st = await stat(p);
    } catch (err) {
      errors.push({ message: `cannot read ${p}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      continue;
    }
    if (st.isDirectory()) await walk(p, files);
    else files.push(p);
  }
  return { files, errors };
}

async function walk(dir: string, out: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) await walk(full, out);
    else if (YAML_EXT.has(extname(e.name))) out.push(full);
  }
}

/** Load every resource from the given paths. Errors never stop the other files from loading. */
export async function loadPaths(paths: readonly string[], seqStart = 0): Promise<LoadResult> {
  const { files, errors } = await listConfigFiles(paths);
  const resources: LoadedResource[] = [];
  let seq = seqStart;
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      errors.push({ message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      continue;
    }
    const parsed = parseYamlResources(text, file);
    errors.push(...parsed.errors);
    for (const r of parsed.resources) resources.push({ ...r, seq: seq++ });
  }
  return { resources, errors, files };
}

/**
 * Parse one YAML text into resources with source positions.
 *
 * Two parsers, one result. `yaml` keeps every node's position (what error
 * messages need) but took ~200 ms for 1000 routes, most of a reload; js-yaml
 * (core schema: the same YAML 1.2 scalars as `yaml`) reads values ~5× faster.
 * So js-yaml reads, and positions come from `yaml` only when something asks
 * for a line. Texts with anchors (&) or that js-yaml refuses (syntax errors,
 * duplicate keys) take the `yaml` path whole: its alias limits and its error
 * messages are the ones users see.
 */
export function parseYamlResources(text: string, file: string): { resources: Omit<LoadedResource, 'seq'>[]; errors: ConfigError[] } {
  if (!text.includes('&')) {
    let values: unknown[] | undefined;
    try {
      values = jsyaml.loadAll(text, undefined, { schema: jsyaml.CORE_SCHEMA, filename: file });
    } catch {
      values = undefined;
    }
    if (values) return fromValues(values, text, file);
  }
  return parseWithPositions(text, file);
}

/** Resources from already-read values; positions computed by `yaml` on first use. */
function fromValues(values: unknown[], text: string, file: string): { resources: Omit<LoadedResource, 'seq'>[]; errors: ConfigError[] } {
  let positioned: ReturnType<typeof parsePositions> | undefined;
  const positions = () => (positioned ??= parsePositions(text));
  const resources: Omit<LoadedResource, 'seq'>[] = [];
  const errors: ConfigError[] = [];
  values.forEach((value, i) => {
    const docNo = i + 1;
    const at = (path: readonly (string | number)[]) => {
      const p = positions();
      const doc = p.docs[i];
      return doc ? lineOfPath(doc, p.lines, path) : undefined;
    };
    const source: SourceRef = {
      file,
      doc: docNo,
      get line() {
        const p = positions();
        return lineAt(p.lines, p.docs[i]?.range?.[0] ?? 0);
      },
      lineOf: at,
    };
    if (value === null || value === undefined) return;
    if (typeof value !== 'object' || Array.isArray(value)) {
      errors.push({ source, message: 'a document must be a mapping with apiVersion, kind and metadata' });
      return;
    }
    const obj = value as Resource;
    if (obj.kind === 'List' && Array.isArray((obj as { items?: unknown }).items)) {
      (obj as unknown as { items: unknown[] }).items.forEach((item, j) => {
        const itemSource: SourceRef = {
          file,
          doc: docNo,
          get line() {
            return at(['items', j]) ?? source.line;
          },
          lineOf: (path) => at(['items', j, ...path]),
        };
        resources.push({ resource: item as Resource, source: itemSource });
      });
      return;
    }
    resources.push({ resource: obj, source });
  });
  return { resources, errors };
}

function parsePositions(text: string): { docs: Document[]; lines: number[] } {
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true });
  return { docs: Array.isArray(docs) ? docs : [], lines: lineStarts(text) };
}

function parseWithPositions(text: string, file: string): { resources: Omit<LoadedResource, 'seq'>[]; errors: ConfigError[] } {
  const resources: Omit<LoadedResource, 'seq'>[] = [];
  const errors: ConfigError[] = [];
  const lines = lineStarts(text);
  const docs = parseAllDocuments(text, { prettyErrors: false, uniqueKeys: true });
  // parseAllDocuments returns an EmptyStream when there is nothing at all.
  if (!Array.isArray(docs)) return { resources, errors };
  docs.forEach((doc, i) => {
    const docNo = i + 1;
    const docLine = lineAt(lines, doc.range?.[0] ?? 0);
    const source: SourceRef = { file, doc: docNo, line: docLine, lineOf: (path) => lineOfPath(doc, lines, path) };
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const line = e.linePos?.[0]?.line ?? lineAt(lines, e.pos?.[0] ?? 0);
        errors.push({ source, line, message: `invalid YAML: ${e.message.split('\n')[0]}` });
      }
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      errors.push({ source, message: `invalid YAML: ${(err as Error).message}` });
      return;
    }
    if (value === null || value === undefined) return; // empty document ("---" at the end)
    if (typeof value !== 'object' || Array.isArray(value)) {
      errors.push({ source, message: 'a document must be a mapping with apiVersion, kind and metadata' });
      return;
    }
    const obj = value as Resource;
    if (obj.kind === 'List' && Array.isArray((obj as { items?: unknown }).items)) {
      const items = (obj as unknown as { items: unknown[] }).items;
      items.forEach((item, j) => {
        const itemSource: SourceRef = {
          ...source,
          line: lineOfPath(doc, lines, ['items', j]) ?? docLine,
          lineOf: (path) => lineOfPath(doc, lines, ['items', j, ...path]),
        };
        resources.push({ resource: item as Resource, source: itemSource });
      });
      return;
    }
    resources.push({ resource: obj, source });
  });
  return { resources, errors };
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function lineAt(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** Line of the deepest node along `path` that exists (the key's line for map entries). */
function lineOfPath(doc: Document, starts: number[], path: readonly (string | number)[]): number | undefined {
  let node: YamlNode | null | undefined = doc.contents as YamlNode | null;
  let line: number | undefined = node?.range ? lineAt(starts, node.range[0]) : undefined;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const key = pair.key as YamlNode;
      if (key.range) line = lineAt(starts, key.range[0]);
      node = pair.value as YamlNode | null;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as YamlNode | undefined;
      if (!item) break;
      if (item.range) line = lineAt(starts, item.range[0]);
      node = item;
    } else break;
  }
  return line;
}
