// Every filter module, by IR filter type. The mapped type makes the compiler
// prove that each type of src/ir/filters.ts has a module here, compiling that
// type's config; a snapshot naming a type without one (an IR from another
// version) is refused when it is compiled, never at request time.
import type { IRFilterType } from '../ir/filters.ts';
import type { FilterModule, FilterModuleFor } from './types.ts';
import { requestHeaderModifier, responseHeaderModifier } from './header-modifier.ts';
import { failClosed } from './fail-closed.ts';
import { mtlsPeer } from './mtls-peer.ts';
import { istioRequestAuthentication } from './istio-request-authentication.ts';
import { istioAuthorizationFilter } from './istio-authorization.ts';
import { localRateLimit, globalRateLimit } from './rate-limit.ts';
import { faultInjection } from './fault-injection.ts';
import { cors } from './cors.ts';
import { apiKeyAuth } from './api-key-auth.ts';
import { basicAuth } from './basic-auth.ts';
import { egJwt } from './jwt.ts';
import { egAuthorization } from './authorization.ts';
import { egExtAuth } from './ext-auth.ts';
import { anyOfAuthentication } from './any-of-authentication.ts';

const MODULES: { readonly [T in IRFilterType]: FilterModuleFor<T> } = {
  failClosed,
  mtlsPeer,
  'istio.requestAuthentication': istioRequestAuthentication,
  'istio.authorization': istioAuthorizationFilter,
  requestHeaderModifier,
  responseHeaderModifier,
  localRateLimit,
  globalRateLimit,
  faultInjection,
  cors,
  extAuth: egExtAuth,
  anyOfAuthentication,
  apiKeyAuth,
  basicAuth,
  jwt: egJwt,
  authorization: egAuthorization,
};

export function filterModule(type: string): FilterModule<any> | undefined {
  return Object.hasOwn(MODULES, type) ? MODULES[type as IRFilterType] : undefined;
}
