// bcrypt verifications, bounded. A verification costs milliseconds of CPU on
// the libuv pool; a flood of wrong passwords must not queue unbounded work, so
// at most `limit` run at once and the rest are refused at once (the caller
// answers 503 with Retry-After). @node-rs/bcrypt is loaded on first use, so a
// configuration without bcrypt hashes never loads the native module.

type Bcrypt = typeof import('@node-rs/bcrypt');

let loading: Promise<Bcrypt> | undefined;

function bcrypt(): Promise<Bcrypt> {
  return (loading ??= import('@node-rs/bcrypt'));
}

/** Default number of bcrypt verifications in flight per gate (the libuv pool has 4 threads). */
export const DEFAULT_BCRYPT_CONCURRENCY = 4;

export class BcryptGate {
  readonly #limit: number;
  #inFlight = 0;

  constructor(limit = DEFAULT_BCRYPT_CONCURRENCY) {
    this.#limit = limit;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * undefined when the gate is full (refuse the request); otherwise whether the
   * password matches. Never rejects: a hash bcrypt cannot read is a mismatch.
   */
  verify(password: string, hash: string): Promise<boolean> | undefined {
    if (this.#inFlight >= this.#limit) return undefined;
    this.#inFlight++;
    return bcrypt()
      .then((b) => b.verify(password, hash))
      .then(
        (ok) => ok,
        () => false,
      )
      .finally(() => {
        this.#inFlight--;
      });
  }
}

/** One gate per process: the libuv pool it protects is shared by every filter. */
export const bcryptGate = new BcryptGate();
