// The Kubernetes-compatible management API, mounted on the admin listener:
// discovery, OpenAPI v3, and every verb on every kind of the registry.
// Paths: /api/v1/..., /apis/{group}/{version}/[namespaces/{ns}/]{plural}[/{name}[/status]].
import type http from 'node:http';
import { parse as parseYaml } from 'yaml';
import { findKindByPlural, apiVersionOf, type KindInfo } from '../../resources/kinds/index.ts';
import type { Resource } from '../../resources/types.ts';
import { StoreError, withRevision, type Store, type WatchEvent } from '../../store/types.ts';
import { ApiError, statusOf, qualified } from './errors.ts';
import { readBody, mediaType, parseJson, parseObjectBody } from './body.ts';
import { apiVersions, apiGroupList, apiGroupDoc, apiResourceList, versionInfo, hasStatus } from './discovery.ts';
import { openApiRoot, openApiFor } from './openapi.ts';
import { openApiV2Json, openApiV2Protobuf, OPENAPI_V2_PROTOBUF } from './openapi-v2.ts';
import { parseLabelSelector, parseFieldSelector, type Matcher } from './selectors.ts';
import { mergePatch, jsonPatch, strategicMergePatch } from './patch.ts';
import { serverSideApply } from './managed-fields.ts';
import { listObjects, listObject, collectionPrefix } from './list.ts';
import { wantsTable, toTable } from './table.ts';
import { Objects, objectKey, type ObjectsDeps, type Target } from './objects.ts';
import type { Authenticator, Identity } from './auth.ts';

export interface ApiOptions extends ObjectsDeps {
  auth: Authenticator;
  version: string;
  /** Refuses writes (Kubernetes mode: the cluster's API server owns the objects). */
  readOnlyReason?: string;
}

const ALL: Matcher = () => true;

function send(res: http.ServerResponse, code: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: http.ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  send(res, err.code, statusOf(err));
}

/** Where a resource path points, or undefined when it is not one. */
function parseResourcePath(parts: string[]): { group: string; version: string; rest: string[] } | undefined {
  if (parts[0] === 'api' && parts.length >= 2) return { group: '', version: parts[1], rest: parts.slice(2) };
  if (parts[0] === 'apis' && parts.length >= 3) return { group: parts[1], version: parts[2], rest: parts.slice(3) };
  return undefined;
}

function targetOf(group: string, version: string, rest: string[]): Target {
  const apiVersion = apiVersionOf(group, version);
  const kind = (plural: string): KindInfo => {
    const k = findKindByPlural(apiVersion, plural);
    if (!k) throw new ApiError('NotFound', `the server could not find the requested resource (${plural} in ${apiVersion})`);
    return k;
  };
  // namespaces/{ns}/{plural}/..., except the Namespace object itself (namespaces/{name}[/status]).
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && rest[2] === 'status' && group === '')) {
    const info = kind(rest[2]);
    if (!info.namespaced) throw new ApiError('NotFound', `${info.plural} is not namespaced`);
    return { info, version, namespace: rest[1], name: rest[3], subresource: rest[4], ...(rest.length > 5 ? { extra: true } : {}) };
  }
  const info = kind(rest[0]);
  return { info, version, namespace: '', name: rest[1], subresource: rest[2], ...(rest.length > 3 ? { extra: true } : {}) };
}

export class ManagementApi {
  private o: ApiOptions;
  readonly objects: Objects;
  constructor(opts: ApiOptions) {
    this.o = opts;
    this.objects = new Objects(opts);
  }

  /** Paths this router answers. */
  static owns(path: string): boolean {
    return path === '/api' || path.startsWith('/api/') || path === '/apis' || path.startsWith('/apis/') || path === '/version' || path.startsWith('/openapi/');
  }

  /**
   * The caller of a request, or an answered 401. Every path but /version
   * (public, as in Kubernetes) needs credentials.
   */
  identify(req: http.IncomingMessage, res: http.ServerResponse): Identity | undefined {
    const who = this.o.auth.authenticate(req);
    if (who === 'invalid' || (who === undefined && !this.o.auth.anonymous())) {
      sendError(res, new ApiError('Unauthorized', 'Unauthorized'));
      return undefined;
    }
    return who ?? this.o.auth.anonymous();
  }

  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.dispatch(req, res).catch((err: unknown) => {
      if (err instanceof ApiError) sendError(res, err);
      else if (err instanceof StoreError && err.code === 'Unavailable') sendError(res, new ApiError('ServiceUnavailable', err.message));
      else sendError(res, new ApiError('InternalError', `internal error: ${(err as Error).message}`));
    });
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (path === '/version') return send(res, 200, versionInfo(this.o.version));
    const who = this.identify(req, res);
    if (!who) return;
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    const read = method === 'GET' || method === 'HEAD';
    if (parts[0] === 'openapi') {
      if (!read) throw new ApiError('MethodNotAllowed', `${method} is not allowed on ${path}`);
      if (parts[1] === 'v2' && parts.length === 2) {
        if (!String(req.headers.accept ?? '').includes('protobuf')) return send(res, 200, openApiV2Json(this.o.version));
        const pb = openApiV2Protobuf(this.o.version);
        res.writeHead(200, { 'content-type': OPENAPI_V2_PROTOBUF, 'cache-control': 'no-store', 'content-length': pb.length });
        return void res.end(pb);
      }
      if (parts[1] === 'v3' && parts.length === 2) return send(res, 200, openApiRoot(this.o.version));
      const doc = parts[1] === 'v3' ? openApiFor(parts.slice(2).join('/'), this.o.version) : undefined;
      if (!doc) throw new ApiError('NotFound', `no OpenAPI document at ${path} (see /openapi/v3)`);
      return send(res, 200, doc);
    }
    if (path === '/api') return read ? send(res, 200, apiVersions(req.headers.host ?? '')) : this.methodNotAllowed(method, path);
    if (path === '/apis') return read ? send(res, 200, apiGroupList()) : this.methodNotAllowed(method, path);
    if (parts[0] === 'apis' && parts.length === 2) {
      const g = apiGroupDoc(parts[1]);
      if (!g) throw new ApiError('NotFound', `the server could not find the requested resource (group ${parts[1]})`);
      return send(res, 200, g);
    }
    const rp = parseResourcePath(parts);
    if (!rp) throw new ApiError('NotFound', `the server could not find the requested resource (${path})`);
    if (rp.rest.length === 0) {
      const list = apiResourceList(rp.group, rp.version);
      if (!list) throw new ApiError('NotFound', `the server could not find the requested resource (${apiVersionOf(rp.group, rp.version)})`);
      return send(res, 200, list);
    }
    const t = targetOf(rp.group, rp.version, rp.rest);
    if ((t as { extra?: boolean }).extra || (t.subresource !== undefined && t.subresource !== 'status')) {
      throw new ApiError('NotFound', `the server could not find the requested resource (${path})`);
    }
    if (t.subresource === 'status' && !hasStatus(t.info)) throw new ApiError('NotFound', `${t.info.plural} has no status subresource`);
    if (read && who.readOnly && t.info.group === '' && t.info.kind === 'Secret') {
      // As Kubernetes' "view" role: Secrets hold credentials (admin tokens among them), so reading them is not read-only access.
      throw new ApiError('Forbidden', `secrets is forbidden: User "${who.user}" cannot ${t.name === undefined ? 'list' : 'get'} resource "secrets" in API group ""${t.namespace ? ` in the namespace "${t.namespace}"` : ''}: the read-only role does not read Secrets`, { name: t.name, group: '', kind: 'secrets' });
    }
    if (!read) {
      if (who.readOnly) {
        throw new ApiError('Forbidden', `${qualified(t.info.plural, t.info.group, t.name)} is forbidden: User "${who.user}" cannot ${method.toLowerCase()} resource "${t.info.plural}" in API group "${t.info.group}"${t.namespace ? ` in the namespace "${t.namespace}"` : ''}: read-only access`, { name: t.name, group: t.info.group, kind: t.info.plural });
      }
      if (this.o.readOnlyReason) throw new ApiError('MethodNotAllowed', this.o.readOnlyReason);
      if (t.subresource === 'status') throw new ApiError('MethodNotAllowed', `the status of ${t.info.plural} is set by the gateway's translator; it cannot be written`);
    }
    const q = url.searchParams;
    const dryRun = q.getAll('dryRun').filter(Boolean);
    if (dryRun.some((d) => d !== 'All')) throw new ApiError('BadRequest', `dryRun wants "All", got ${JSON.stringify(dryRun)}`);
    const isDry = dryRun.length > 0;
    const manager = q.get('fieldManager') ?? defaultManager(req);
    if (t.name === undefined) {
      if (method === 'GET' && (q.get('watch') === 'true' || q.get('watch') === '1')) return this.watch(req, res, t, q);
      if (method === 'GET') return this.list(req, res, t, q);
      if (method === 'POST') {
        if (t.info.namespaced && t.namespace === '') throw new ApiError('MethodNotAllowed', `create ${t.info.plural} in a namespace: POST /.../namespaces/{namespace}/${t.info.plural}`);
        const body = parseObjectBody(req, await readBody(req));
        return send(res, isDry ? 200 : 201, await this.objects.create(t, body, who, manager, isDry));
      }
      if (method === 'DELETE') return this.deleteCollection(res, t, q, who, isDry);
      return this.methodNotAllowed(method, path);
    }
    if (t.info.namespaced && t.namespace === '') throw new ApiError('NotFound', `${t.info.plural} is namespaced: use /.../namespaces/{namespace}/${t.info.plural}/${t.name}`);
    switch (method) {
      case 'GET':
      case 'HEAD':
        return send(res, 200, await this.objects.get(t));
      case 'PUT': {
        const body = parseObjectBody(req, await readBody(req));
        const r = await this.objects.update(t, who, 'update', manager, isDry, () => body as Resource);
        return send(res, 200, r.object);
      }
      case 'PATCH':
        return this.patch(req, res, t, who, manager, isDry, q);
      case 'DELETE': {
        const buf = await readBody(req);
        const opts = buf.length > 0 ? (parseJson(buf) as { preconditions?: { resourceVersion?: string; uid?: string } }) : {};
        const pre = opts && typeof opts === 'object' && opts.preconditions && typeof opts.preconditions === 'object' ? opts.preconditions : {};
        return send(res, 200, await this.objects.delete(t, who, pre, isDry));
      }
      default:
        return this.methodNotAllowed(method, path);
    }
  }

  private methodNotAllowed(method: string, path: string): never {
    throw new ApiError('MethodNotAllowed', `${method} is not allowed on ${path}`);
  }

  private async patch(req: http.IncomingMessage, res: http.ServerResponse, t: Target, who: Identity, manager: string, dryRun: boolean, q: URLSearchParams): Promise<void> {
    const type = mediaType(req);
    const buf = await readBody(req);
    if (type === 'application/apply-patch+yaml') {
      let applied: unknown;
      try {
        applied = parseYaml(buf.toString('utf8'), { maxAliasCount: 100, uniqueKeys: true });
      } catch (err) {
        throw new ApiError('BadRequest', `the body is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
      }
      if (!applied || typeof applied !== 'object' || Array.isArray(applied)) throw new ApiError('BadRequest', 'an apply body must be one object');
      if (!q.get('fieldManager')) throw new ApiError('BadRequest', 'fieldManager is required for apply requests');
      const body = applied as Resource;
      if (typeof body.apiVersion !== 'string' || typeof body.kind !== 'string') throw new ApiError('BadRequest', 'an apply body needs apiVersion and kind');
      const force = q.get('force') === 'true';
      const r = await this.objects.update(t, who, 'apply', manager, dryRun, (current) => {
        const shaped = { ...body, metadata: { ...body.metadata, name: t.name, ...(t.info.namespaced ? { namespace: t.namespace } : {}) } } as Resource;
        return serverSideApply(current, shaped, manager, force);
      }, true);
      return send(res, r.created && !dryRun ? 201 : 200, r.object);
    }
    const patch = type === 'application/json-patch+json' || type === 'application/merge-patch+json' || type === 'application/strategic-merge-patch+json' ? parseJson(buf) : undefined;
    if (patch === undefined) {
      throw new ApiError('UnsupportedMediaType', `the PATCH media type "${type}" is not supported; use application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json or application/apply-patch+yaml`);
    }
    const r = await this.objects.update(t, who, 'patch', manager, dryRun, (current) => {
      const base = structuredClone(current!) as Resource;
      delete base.status;
      if (type === 'application/json-patch+json') return jsonPatch(base, patch) as unknown as Resource;
      if (type === 'application/merge-patch+json') return mergePatch(base, patch) as unknown as Resource;
      return strategicMergePatch(t.info.kind, base, patch) as unknown as Resource;
    });
    send(res, 200, r.object);
  }

  /**
   * deletecollection: every object of the collection that the selectors match,
   * deleted one by one (each audited, each a watch event); the answer is the
   * list of what was deleted, as the apiserver gives it. Objects from -f files
   * are read-only and stay (edit the files); they are not in the answer.
   */
  private async deleteCollection(res: http.ServerResponse, t: Target, q: URLSearchParams, who: Identity, dryRun: boolean): Promise<void> {
    if (t.info.namespaced && t.namespace === '') throw new ApiError('MethodNotAllowed', `delete a collection of ${t.info.plural} in a namespace: DELETE /.../namespaces/{namespace}/${t.info.plural}`);
    const files = this.o.fileObjects();
    const result = await listObjects(this.o.store, this.objects, new Map(), t, { limit: 0, match: this.matcher(q) });
    const deleted: Resource[] = [];
    for (const item of result.items) {
      const one: Target = { ...t, namespace: t.info.namespaced ? (item.metadata.namespace ?? t.namespace) : '', name: item.metadata.name };
      if (files.has(objectKey(t.info, one.namespace, item.metadata.name))) continue;
      try {
        deleted.push(await this.objects.delete(one, who, {}, dryRun));
      } catch (err) {
        if (!(err instanceof ApiError && err.reason === 'NotFound')) throw err; // deleted meanwhile by someone else
      }
    }
    send(res, 200, listObject(t, { items: deleted, resourceVersion: String(await this.o.store.revision()) }));
  }

  private matcher(q: URLSearchParams): Matcher {
    const labels = parseLabelSelector(q.get('labelSelector'));
    const fields = parseFieldSelector(q.get('fieldSelector'));
    if (labels && fields) return (r) => labels(r) && fields(r);
    return labels ?? fields ?? ALL;
  }

  private async list(req: http.IncomingMessage, res: http.ServerResponse, t: Target, q: URLSearchParams): Promise<void> {
    const limitText = q.get('limit');
    if (limitText !== null && !/^\d+$/.test(limitText)) throw new ApiError('BadRequest', `limit wants a whole number, got "${limitText}"`);
    const result = await listObjects(this.o.store, this.objects, this.o.fileObjects(), t, {
      limit: limitText ? Number(limitText) : 0,
      continueToken: q.get('continue') || undefined,
      match: this.matcher(q),
    });
    if (wantsTable(req.headers.accept)) return send(res, 200, toTable(result.items, { resourceVersion: result.resourceVersion, ...(result.continueToken ? { continue: result.continueToken } : {}) }));
    send(res, 200, listObject(t, result));
  }

  /**
   * A watch: newline-delimited JSON events. Without resourceVersion (or "0"),
   * the current objects come first as ADDED; with one, every change after it.
   * A version older than the kept history gets an ERROR event (410 Expired).
   */
  private async watch(req: http.IncomingMessage, res: http.ServerResponse, t: Target, q: URLSearchParams): Promise<void> {
    const match = this.matcher(q);
    const table = wantsTable(req.headers.accept);
    const rvText = q.get('resourceVersion') ?? '';
    if (rvText !== '' && !/^\d+$/.test(rvText)) throw new ApiError('BadRequest', `resourceVersion wants a number, got "${rvText}"`);
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    const prefix = collectionPrefix(t);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const write = (type: string, object: unknown) => {
      const obj = table && type !== 'ERROR' && type !== 'BOOKMARK' ? toTable([object as Resource], {}) : object;
      res.write(JSON.stringify({ type, object: obj }) + '\n');
    };
    let from: number;
    if (rvText === '' || rvText === '0') {
      const initial = await listObjects(this.o.store, this.objects, this.o.fileObjects(), t, { limit: 0, match });
      for (const item of initial.items) write('ADDED', item);
      from = Number(initial.resourceVersion);
    } else from = Number(rvText);
    let closed = false;
    // As the Kubernetes watch cache: an object that stops matching the selectors is DELETED (its previous
    // content, at the event's resourceVersion); one that starts matching is ADDED.
    const onEvent = (e: WatchEvent) => {
      if (closed) return;
      if (e.type !== 'MODIFIED') {
        if (match(e.object)) write(e.type, this.objects.present(e.object, t));
        return;
      }
      const now = match(e.object);
      const before = e.prev ? match(e.prev) : now;
      if (now) write(before ? 'MODIFIED' : 'ADDED', this.objects.present(e.object, t));
      else if (before) write('DELETED', this.objects.present(withRevision(e.prev!, e.revision), t));
    };
    const end = () => {
      if (closed) return;
      closed = true;
      watch?.close();
      if (timer) clearTimeout(timer);
      res.end();
    };
    let watch: { close(): void } | undefined;
    const timer = timeout > 0 ? setTimeout(end, timeout * 1000) : undefined;
    req.on('close', end);
    res.on('close', end);
    const expired = (err: Error) => {
      if (closed) return;
      const status = new ApiError('Expired', `too old resource version: ${rvText} (${err.message})`);
      write('ERROR', statusOf(status));
      end();
    };
    try {
      watch = await this.o.store.watch(prefix, from, onEvent, (err) => (err instanceof StoreError && err.code === 'Expired' ? expired(err) : end()));
      if (closed) watch.close();
    } catch (err) {
      if (err instanceof StoreError && err.code === 'Expired') return expired(err);
      throw err;
    }
  }
}

/** Kubernetes names the manager after the client's user agent when fieldManager is not given. */
function defaultManager(req: http.IncomingMessage): string {
  const ua = req.headers['user-agent'] ?? 'unknown';
  return ua.split('/')[0].slice(0, 128) || 'unknown';
}

export type { Store };
