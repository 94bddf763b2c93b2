// Answers a listener gives before routing, when its ClientTrafficPolicy asks:
// Envoy's health check filter (healthCheck.path, not pass-through) and
// path_with_escaped_slashes_action (path.escapedSlashesAction RejectRequest /
// UnescapeAndRedirect). Both read the normalized path, the one routing and
// authorization see. decide() calls this only on a listener that sets one.
import type { IncomingHttpHeaders } from 'node:http';
import type { IRListener } from '../ir/types.ts';
import type { Reply } from '../core/decision.ts';
import { gatewayReply, isGrpcContentType } from '../core/replies.ts';
import { hasEscapedSlash, type SplitTarget } from './path.ts';

const HEALTHY: Reply = { status: 200, headers: {} };

export function listenerAnswer(l: IRListener, target: string, split: SplitTarget, headers: IncomingHttpHeaders): { reply: Reply; why: string } | undefined {
  if (l.escapedSlashes !== undefined && hasEscapedSlash(target)) {
    // gRPC clients do not follow redirects: Envoy refuses them instead (INTERNAL, as the 400 maps).
    if (l.escapedSlashes === 'RejectRequest' || isGrpcContentType(headers['content-type'])) {
      return { reply: gatewayReply('badPath'), why: `path: escaped slash refused (ClientTrafficPolicy path.escapedSlashesAction ${l.escapedSlashes})` };
    }
    const location = split.query === '' ? split.path : `${split.path}?${split.query}`;
    return { reply: { status: 307, headers: { location } }, why: 'path: escaped slash redirected to the unescaped path (ClientTrafficPolicy path.escapedSlashesAction UnescapeAndRedirect)' };
  }
  // Envoy matches :path exactly: a query makes it another path.
  if (l.healthCheckPath !== undefined && split.path === l.healthCheckPath && target.indexOf('?') < 0) {
    return { reply: HEALTHY, why: 'healthCheck: the listener answers its health check path (ClientTrafficPolicy healthCheck.path)' };
  }
  return undefined;
}
