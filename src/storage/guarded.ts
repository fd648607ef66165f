/**
 * The one way storage calls a binding: D1, KV, the JtiStore Durable Object and the rate limiter.
 * Any failure (an exception, or no answer within the store's timeout) becomes
 * StoreUnavailableError, which routes answer with 503: a route never guesses. Storage knows no
 * HTTP; src/http/handling.ts turns this error into the contract's answer.
 */

/** The bindings Keymint waits on. */
export type Store = "d1" | "kv" | "rate_limiter" | "jti_store";

/** Thrown by storage when a store fails or does not answer in time (fail closed). */
export class StoreUnavailableError extends Error {
  constructor(
    readonly store: Store,
    options?: { cause?: unknown },
  ) {
    super(`${store} unavailable`, options);
  }
}

/**
 * How long each store may take before its call counts as failed. D1 and KV normally answer in
 * milliseconds (KV from the local cache, D1 within the continent); these are far above that, so
 * only an outage trips them. The rate limiter counts locally: a stuck one must not hold every
 * authentication failure, sign-in and admin write open for long (it fails open, see rate-limits).
 */
export const STORE_TIMEOUT_MS: Readonly<Record<Store, number>> = { d1: 5_000, kv: 3_000, jti_store: 3_000, rate_limiter: 1_000 };

export async function guarded<T>(store: Store, work: () => Promise<T>, timeoutMs = STORE_TIMEOUT_MS[store]): Promise<T> {
  let cancelTimer = () => {};
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        const timer = setTimeout(() => reject(new Error(`${store} timed out`)), timeoutMs);
        cancelTimer = () => clearTimeout(timer);
      }),
    ]);
  } catch (cause) {
    throw new StoreUnavailableError(store, { cause });
  } finally {
    cancelTimer();
  }
}

/** KV takes one write per second per key: a write that follows another one to the same key waits this long. */
const KV_SAME_KEY_WRITE_GAP_MS = 1_100;

/**
 * Runs a KV write, and once more after the same-key gap if it fails: a repair or a second marker
 * often follows a write to the same key within the second. A second failure is the caller's.
 */
export async function writeOnceMore(write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch {
    await scheduler.wait(KV_SAME_KEY_WRITE_GAP_MS);
    await write();
  }
}
