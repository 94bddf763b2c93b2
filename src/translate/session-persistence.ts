// Gateway API HTTPRoute rule sessionPersistence (GEP-1619) → IR, served by
// the route backends' balancers (src/upstream/balancer.ts): the first answer
// names the replica in a cookie (or a header) called sessionName; requests
// that bring it back go to that replica while it is in rotation and the
// session has not timed out (absoluteTimeout since it began, idleTimeout
// since its last request), otherwise the load balancer picks again and names
// the new replica.
import type { IRSessionPersistence } from '../ir/traffic.ts';
import { parseDuration } from './durations.ts';
import type { Static } from '../resources/kinds/common.ts';
import type { SESSION_PERSISTENCE } from '../resources/kinds/gatewayapi-types.ts';

export type SessionPersistenceSpec = Static<typeof SESSION_PERSISTENCE>;

/** The cookie's (or header's) name when sessionName is left out. */
export const DEFAULT_SESSION_NAME = 'portcullis-session';

/** `path`: the rule's first path match (Exact or PathPrefix), the cookie's Path as Envoy Gateway sets it; else "/". */
export function sessionPersistence(sp: SessionPersistenceSpec, path: string | undefined): IRSessionPersistence {
  const type = sp.type ?? 'Cookie';
  const name = sp.sessionName ?? DEFAULT_SESSION_NAME;
  return {
    type,
    name: type === 'Header' ? name.toLowerCase() : name,
    absoluteTimeoutMs: parseDuration(sp.absoluteTimeout ?? '') ?? 0,
    idleTimeoutMs: parseDuration(sp.idleTimeout ?? '') ?? 0,
    permanent: sp.cookieConfig?.lifetimeType === 'Permanent',
    path: path ?? '/',
  };
}
