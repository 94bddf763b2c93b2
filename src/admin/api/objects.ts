// Kubernetes object semantics over a Store: server-set metadata (uid,
// generation, creationTimestamp, resourceVersion), validation with the
// same checks as `portcullis validate` (422 Invalid with field causes),
// optimistic concurrency (stale resourceVersion → 409), read-only objects
// from -f files, translator status on every object read, and the audit log.
import { randomUUID, randomBytes } from 'node:crypto';
import type { KindInfo } from '../../resources/kinds/index.ts';
import { apiVersionOf } from '../../resources/kinds/index.ts';
import type { Resource } from '../../resources/types.ts';
import { validateResource } from '../../resources/validate.ts';
import { formatPath } from '../../resources/errors.ts';
import { StoreError, keyString, revisionOf, type Store } from '../../store/types.ts';
import { ApiError, qualified } from './errors.ts';
import { canonical } from './patch.ts';
import { recordUpdate } from './managed-fields.ts';
import type { AuditLog, AuditRecord } from './audit.ts';
import type { Identity } from './auth.ts';

export interface Target {
  info: KindInfo;
  version: string;
  /** The request's namespace ("" for cluster-scoped kinds and all-namespace lists). */
  namespace: string;
  name?: string;
  subresource?: string;
}

export interface ObjectsDeps {
  store: Store;
  audit: AuditLog;
  /** Objects from -f files, by store key: served read-only. */
  fileObjects(): Map<string, { resource: Resource; file: string }>;
  /** The translator's conditions for an object, if it was translated. */
  statusOf(r: Resource): Record<string, unknown> | undefined;
}

export const READ_ONLY_ANNOTATION = 'portcullis.io/read-only-source';
const RETRIES = 5;

export function objectKey(info: KindInfo, namespace: string, name: string): string {
  return keyString({ group: info.group, plural: info.plural, namespace: info.namespaced ? namespace : '', name });
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Everything but metadata and status: what generation counts changes of. */
function specPart(r: Resource): string {
  const { metadata: _m, status: _s, apiVersion: _a, ...rest } = r as Record<string, unknown>;
  return JSON.stringify(canonical(rest));
}

function withoutVolatile(r: Resource): string {
  const { status: _s, ...rest } = r as Record<string, unknown>;
  const md = { ...(rest.metadata as Record<string, unknown>) };
  delete md.resourceVersion;
  delete md.managedFields;
  return JSON.stringify(canonical({ ...rest, metadata: md }));
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export class Objects {
  private d: ObjectsDeps;
  constructor(deps: ObjectsDeps) {
    this.d = deps;
  }

  /** How the object is shown: the requested apiVersion, and the translator's status. */
  present(r: Resource, t: Target): Resource {
    const out: Resource = { ...r, apiVersion: apiVersionOf(t.info.group, t.version) };
    const status = this.d.statusOf(r);
    if (status) out.status = status;
    else delete out.status;
    return out;
  }

  fileObject(key: string): Resource | undefined {
    const f = this.d.fileObjects().get(key);
    if (!f) return undefined;
    return { ...f.resource, metadata: { ...f.resource.metadata, annotations: { ...f.resource.metadata.annotations, [READ_ONLY_ANNOTATION]: f.file } } };
  }

  async get(t: Target): Promise<Resource> {
    const key = objectKey(t.info, t.namespace, t.name!);
    const r = (await this.d.store.get(key)) ?? this.fileObject(key);
    if (!r) throw this.notFound(t);
    return this.present(r, t);
  }

  notFound(t: Target): ApiError {
    return new ApiError('NotFound', `${qualified(t.info.plural, t.info.group, t.name)} not found`, { name: t.name, group: t.info.group, kind: t.info.plural });
  }

  private refuseFileObject(t: Target, name: string): void {
    const f = this.d.fileObjects().get(objectKey(t.info, t.namespace, name));
    if (f) {
      throw new ApiError('Conflict', `${qualified(t.info.plural, t.info.group, name)} is defined in ${f.file}, which the API serves read-only; edit the file instead`, { name, group: t.info.group, kind: t.info.plural });
    }
  }

  /** The body as an object of this kind, in this namespace, named as the path says. */
  private shape(t: Target, body: unknown, name?: string): Resource {
    if (!isMap(body)) throw new ApiError('BadRequest', 'the body must be a JSON object');
    const apiVersion = apiVersionOf(t.info.group, t.version);
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersion && !t.info.versions.some((v) => apiVersionOf(t.info.group, v) === body.apiVersion)) {
      throw new ApiError('BadRequest', `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`);
    }
    if (body.kind !== undefined && body.kind !== t.info.kind) throw new ApiError('BadRequest', `the kind in the data (${String(body.kind)}) does not match the expected kind (${t.info.kind})`);
    const md = isMap(body.metadata) ? { ...body.metadata } : {};
    if (t.info.namespaced) {
      if (md.namespace !== undefined && md.namespace !== t.namespace) {
        throw new ApiError('BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      }
      md.namespace = t.namespace;
    }
    if (name !== undefined) {
      if (md.name !== undefined && md.name !== name) throw new ApiError('BadRequest', `the name of the object (${String(md.name)}) does not match the name on the URL (${name})`);
      md.name = name;
    }
    const out = { ...body, apiVersion, kind: t.info.kind, metadata: md } as Resource;
    delete out.status;
    return out;
  }

  private validate(t: Target, r: Resource): void {
    const issues = validateResource(r);
    if (issues.length === 0) return;
    const causes = issues.map((i) => ({ reason: 'FieldValueInvalid', message: i.message, field: formatPath(i.path) }));
    const summary = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join(', ');
    const name = typeof r.metadata?.name === 'string' ? r.metadata.name : '';
    throw new ApiError('Invalid', `${t.info.kind}${t.info.group ? '.' + t.info.group : ''} "${name}" is invalid: ${summary}`, { name, group: t.info.group, kind: t.info.kind, causes });
  }

  private translateStoreError(err: unknown, t: Target, name: string): never {
    if (err instanceof StoreError) {
      const details = { name, group: t.info.group, kind: t.info.plural };
      if (err.code === 'NotFound') throw new ApiError('NotFound', `${qualified(t.info.plural, t.info.group, name)} not found`, details);
      if (err.code === 'AlreadyExists') throw new ApiError('AlreadyExists', `${qualified(t.info.plural, t.info.group, name)} already exists`, details);
      if (err.code === 'Conflict') {
        throw new ApiError('Conflict', `Operation cannot be fulfilled on ${qualified(t.info.plural, t.info.group, name)}: the object has been modified; please apply your changes to the latest version and try again`, details);
      }
      if (err.code === 'Unavailable') throw new ApiError('ServiceUnavailable', `the store is unavailable: ${err.message}`);
    }
    throw err;
  }

  private audit(who: Identity, verb: AuditRecord['verb'], t: Target, before: Resource | undefined, after: Resource | undefined): void {
    const r = (after ?? before)!;
    this.d.audit.record(who, {
      verb, apiVersion: apiVersionOf(t.info.group, t.version), kind: t.info.kind, namespace: r.metadata.namespace, name: r.metadata.name,
      uid: r.metadata.uid, oldResourceVersion: before?.metadata.resourceVersion, newResourceVersion: after?.metadata.resourceVersion,
    });
  }

  async create(t: Target, body: unknown, who: Identity, manager: string, dryRun: boolean): Promise<Resource> {
    const obj = this.shape(t, body);
    const md = obj.metadata;
    if (md.resourceVersion !== undefined && md.resourceVersion !== '') throw new ApiError('BadRequest', 'resourceVersion should not be set on objects to be created');
    if ((md.name === undefined || md.name === '') && typeof md.generateName === 'string' && md.generateName !== '') {
      md.name = md.generateName + randomBytes(4).toString('hex').slice(0, 5);
    }
    if (typeof md.name !== 'string' || md.name === '') {
      throw new ApiError('Invalid', `${t.info.kind} "" is invalid: metadata.name: Required value: name or generateName is required`, { causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }] });
    }
    this.refuseFileObject(t, md.name);
    md.uid = randomUUID();
    md.creationTimestamp = now();
    md.generation = 1;
    delete md.resourceVersion;
    if (!Array.isArray(md.managedFields)) md.managedFields = recordUpdate(undefined, obj, manager);
    this.validate(t, obj);
    if (dryRun) return this.present(obj, t);
    let created: Resource;
    try {
      created = await this.d.store.create(objectKey(t.info, t.namespace, md.name), obj);
    } catch (err) {
      this.translateStoreError(err, t, md.name);
    }
    this.audit(who, 'create', t, undefined, created);
    return this.present(created, t);
  }

  /**
   * Read, change, compare-and-swap; on a race, read again (Kubernetes'
   * GuaranteedUpdate). `change` throws to refuse (a stale resourceVersion
   * the client asked for is a Conflict, and is not retried).
   */
  async update(t: Target, who: Identity, verb: AuditRecord['verb'], manager: string, dryRun: boolean,
    change: (current: Resource | undefined) => Resource, createIfMissing = false): Promise<{ object: Resource; created: boolean }> {
    const name = t.name!;
    const key = objectKey(t.info, t.namespace, name);
    this.refuseFileObject(t, name);
    for (let attempt = 0; ; attempt++) {
      const current = await this.d.store.get(key);
      if (!current && !createIfMissing) throw this.notFound(t);
      const proposed = this.shape(t, change(current), name);
      const md = proposed.metadata;
      if (!current) {
        // server-side apply of an object that does not exist: a create.
        md.uid = randomUUID();
        md.creationTimestamp = now();
        md.generation = 1;
        delete md.resourceVersion;
        this.validate(t, proposed);
        if (dryRun) return { object: this.present(proposed, t), created: true };
        try {
          const created = await this.d.store.create(key, proposed);
          this.audit(who, verb, t, undefined, created);
          return { object: this.present(created, t), created: true };
        } catch (err) {
          if (err instanceof StoreError && err.code === 'AlreadyExists' && attempt < RETRIES) continue;
          this.translateStoreError(err, t, name);
        }
      }
      const cur = current!;
      if (md.uid !== undefined && md.uid !== cur.metadata.uid) {
        throw new ApiError('Conflict', `Precondition failed: UID in precondition: ${String(md.uid)}, UID in object meta: ${cur.metadata.uid}`, { name, group: t.info.group, kind: t.info.plural });
      }
      const asked = md.resourceVersion;
      if (asked !== undefined && asked !== '' && asked !== cur.metadata.resourceVersion) this.translateStoreError(new StoreError('Conflict', 'stale'), t, name);
      md.uid = cur.metadata.uid;
      md.creationTimestamp = cur.metadata.creationTimestamp;
      md.generation = (cur.metadata.generation ?? 1) + (specPart(proposed) === specPart(cur) ? 0 : 1);
      if (verb !== 'apply') md.managedFields = recordUpdate(cur, proposed, manager);
      delete md.resourceVersion;
      this.validate(t, proposed);
      if (withoutVolatile(proposed) === withoutVolatile(cur) && JSON.stringify(canonical(md.managedFields)) === JSON.stringify(canonical(cur.metadata.managedFields))) {
        return { object: this.present(cur, t), created: false }; // no change: no new resourceVersion, no event
      }
      if (dryRun) return { object: this.present({ ...proposed, metadata: { ...md, resourceVersion: cur.metadata.resourceVersion } }, t), created: false };
      try {
        const updated = await this.d.store.update(key, proposed, revisionOf(cur));
        this.audit(who, verb, t, cur, updated);
        return { object: this.present(updated, t), created: false };
      } catch (err) {
        const askedVersion = asked !== undefined && asked !== '';
        if (err instanceof StoreError && (err.code === 'Conflict' || err.code === 'NotFound') && !askedVersion && attempt < RETRIES) continue;
        this.translateStoreError(err, t, name);
      }
    }
  }

  async delete(t: Target, who: Identity, preconditions: { resourceVersion?: string; uid?: string }, dryRun: boolean): Promise<Resource> {
    const name = t.name!;
    const key = objectKey(t.info, t.namespace, name);
    this.refuseFileObject(t, name);
    const current = await this.d.store.get(key);
    if (!current) throw this.notFound(t);
    if (preconditions.uid !== undefined && preconditions.uid !== current.metadata.uid) {
      throw new ApiError('Conflict', `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${current.metadata.uid}`, { name, group: t.info.group, kind: t.info.plural });
    }
    const expected = preconditions.resourceVersion !== undefined ? Number(preconditions.resourceVersion) : revisionOf(current);
    if (preconditions.resourceVersion !== undefined && preconditions.resourceVersion !== current.metadata.resourceVersion) this.translateStoreError(new StoreError('Conflict', 'stale'), t, name);
    if (dryRun) return this.present(current, t);
    let deleted: Resource;
    try {
      deleted = await this.d.store.delete(key, expected);
    } catch (err) {
      this.translateStoreError(err, t, name);
    }
    this.audit(who, 'delete', t, current, undefined);
    return this.present(deleted, t);
  }
}
