// undici's Pool by itself: undici's index also loads fetch, WebSocket,
// EventSource, the caches and their interceptors, about 14 MiB per worker that
// the data plane never uses. Same class (same module instances) as undici's
// own, with the request()/stream() methods its index adds to every dispatcher
// (mirrors and ext_authz use request()).
import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
Object.assign((require('undici/lib/dispatcher/dispatcher.js') as { prototype: object }).prototype, require('undici/lib/api/index.js'));
export type Pool = UndiciPool;
