// OpenAPI v2 at /openapi/v2, for kubectl before 1.27 (Debian's is 1.20): such a
// kubectl reads it, in protobuf (gnostic's openapi.v2.Document), before every
// `apply` and refuses to apply without it. The document lists no definitions:
// kubectl validates only the kinds it finds there and leaves the others to the
// server, which validates every write with the same checks as `portcullis
// validate` (422 Invalid with field causes). Schemas are served as OpenAPI v3
// (/openapi/v3), which newer kubectl reads for validation and explain.

/** What kube-openapi answers a protobuf request with (the "@" of the Accept form is no valid media type for Go's mime package). */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** One length-delimited protobuf field (wire type 2): a string or an embedded message. */
function field(num: number, value: string | Buffer): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([Buffer.from([...varint((num << 3) | 2), ...varint(bytes.length)]), bytes]);
}

function info(version: string): { title: string; version: string } {
  return { title: 'Portcullis management API', version };
}

/** The document as JSON (Accept: application/json). */
export function openApiV2Json(version: string): object {
  return { swagger: '2.0', info: info(version), paths: {}, definitions: {} };
}

/** The document in protobuf: Document{swagger = 1, info = 2 (Info{title = 1, version = 2}), paths = 8 (empty)}. */
export function openApiV2Protobuf(version: string): Buffer {
  const i = info(version);
  return Buffer.concat([field(1, '2.0'), field(2, Buffer.concat([field(1, i.title), field(2, i.version)])), field(8, Buffer.alloc(0))]);
}
