// @peculiar/x509 resolves its algorithm classes through tsyringe, which refuses to
// load unless a Reflect metadata API exists ("reflect-metadata" or similar). None of
// those polyfills is installed, and tsyringe only needs the four functions below for
// classes whose constructors take no parameters, so a WeakMap-backed subset is enough.
// Existing functions (a real polyfill loaded first) are never replaced.

type Target = object;
const store = new WeakMap<Target, Map<unknown, unknown>>();

function own(target: Target, create: boolean): Map<unknown, unknown> | undefined {
  let m = store.get(target);
  if (!m && create) store.set(target, (m = new Map()));
  return m;
}

const shim = {
  defineMetadata(key: unknown, value: unknown, target: Target): void {
    own(target, true)!.set(key, value);
  },
  getOwnMetadata(key: unknown, target: Target): unknown {
    return own(target, false)?.get(key);
  },
  getMetadata(key: unknown, target: Target): unknown {
    // Like reflect-metadata: walk the prototype chain.
    for (let t: Target | null = target; t; t = Object.getPrototypeOf(t)) {
      const m = own(t, false);
      if (m?.has(key)) return m.get(key);
    }
    return undefined;
  },
  metadata(key: unknown, value: unknown) {
    return (target: Target): void => shim.defineMetadata(key, value, target);
  },
};

const R = Reflect as unknown as Record<string, unknown>;
for (const [name, fn] of Object.entries(shim)) {
  if (typeof R[name] !== 'function') Object.defineProperty(Reflect, name, { value: fn, configurable: true, writable: true });
}
