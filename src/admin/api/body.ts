// Request bodies of the management API: bounded, JSON or YAML by content type.
import type http from 'node:http';
import { parse as parseYaml } from 'yaml';
import { ApiError } from './errors.ts';

/** The Kubernetes API server's own limit for one request body. */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export async function readBody(req: http.IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) throw new ApiError('RequestEntityTooLarge', `request body of ${declared} bytes is over the ${limit}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError('RequestEntityTooLarge', `request body is over the ${limit}-byte limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The media type without parameters, lowercased. */
export function mediaType(req: http.IncomingMessage): string {
  return (req.headers['content-type'] ?? 'application/json').split(';')[0].trim().toLowerCase();
}

export function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new ApiError('BadRequest', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

export function parseYamlOrJson(buf: Buffer): unknown {
  try {
    return parseYaml(buf.toString('utf8'), { maxAliasCount: 100, uniqueKeys: true });
  } catch (err) {
    throw new ApiError('BadRequest', `the body is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

/** A body for create/replace: JSON, or YAML when the client says so. */
export function parseObjectBody(req: http.IncomingMessage, buf: Buffer): unknown {
  const type = mediaType(req);
  if (type === 'application/json' || type === '') return parseJson(buf);
  if (type === 'application/yaml' || type === 'application/x-yaml' || type === 'text/yaml') return parseYamlOrJson(buf);
  throw new ApiError('UnsupportedMediaType', `the body's media type "${type}" is not supported; send application/json or application/yaml`);
}
