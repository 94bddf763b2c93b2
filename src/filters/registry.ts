// Every filter module, by IR filter type. The mapped type makes the compiler
// prove that each type of src/ir/filters.ts has a module here, compiling that
// type's config; a snapshot naming a type without one (an IR from another
// version) is refused when it is compiled, never at request time.
//
// Modules are imported when a snapshot first uses their type (loadFilterModules,
// awaited before compiling): a worker serving plain routes never loads the JWT
// verifier, the ext_authz clients or bcrypt — memory every worker would carry.
import type { IRFilterType } from '../ir/filters.ts';
import type { FilterModule, FilterModuleFor } from './types.ts';

type Loaders = { readonly [T in IRFilterType]: () => Promise<FilterModuleFor<T>> };

const LOADERS: Loaders = {
  failClosed: async () => (await import('./fail-closed.ts')).failClosed,
  mtlsPeer: async () => (await import('./mtls-peer.ts')).mtlsPeer,
  'istio.requestAuthentication': async () => (await import('./istio-request-authentication.ts')).istioRequestAuthentication,
  'istio.authorization': async () => (await import('./istio-authorization.ts')).istioAuthorizationFilter,
  requestHeaderModifier: async () => (await import('./header-modifier.ts')).requestHeaderModifier,
  responseHeaderModifier: async () => (await import('./header-modifier.ts')).responseHeaderModifier,
  localRateLimit: async () => (await import('./rate-limit.ts')).localRateLimit,
  globalRateLimit: async () => (await import('./rate-limit.ts')).globalRateLimit,
  faultInjection: async () => (await import('./fault-injection.ts')).faultInjection,
  cors: async () => (await import('./cors.ts')).cors,
  botDetection: async () => (await import('./bot-detection.ts')).botDetection,
  extAuth: async () => (await import('./ext-auth.ts')).egExtAuth,
  anyOfAuthentication: async () => (await import('./any-of-authentication.ts')).anyOfAuthentication,
  apiKeyAuth: async () => (await import('./api-key-auth.ts')).apiKeyAuth,
  basicAuth: async () => (await import('./basic-auth.ts')).basicAuth,
  jwt: async () => (await import('./jwt.ts')).egJwt,
  authorization: async () => (await import('./authorization.ts')).egAuthorization,
};

const loaded = new Map<string, FilterModule<any>>();

function known(type: string): type is IRFilterType {
  return Object.hasOwn(LOADERS, type);
}

/** Import the modules of these filter types (unknown types are left for compile to refuse). */
export async function loadFilterModules(types: Iterable<string>): Promise<void> {
  const wanted = new Set<IRFilterType>();
  for (const t of types) if (known(t) && !loaded.has(t)) wanted.add(t);
  await Promise.all([...wanted].map(async (t) => void loaded.set(t, (await LOADERS[t]()) as FilterModule<any>)));
}

/** The module of a filter type, once loadFilterModules has imported it. */
export function filterModule(type: string): FilterModule<any> | undefined {
  return loaded.get(type);
}
