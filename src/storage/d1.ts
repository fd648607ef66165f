import { type Store, StoreUnavailableError } from "../http/errors";

/**
 * The one place D1 is called. Any failure (an exception, or no answer within the timeout)
 * becomes StoreUnavailableError, which routes answer with 503: a route never guesses.
 */

/** A D1 call that has not answered in this long is treated as failed (fail closed). */
export const D1_TIMEOUT_MS = 5_000;

export async function guarded<T>(store: Store, work: () => Promise<T>, timeoutMs = D1_TIMEOUT_MS): Promise<T> {
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

export function first<T>(statement: D1PreparedStatement): Promise<T | null> {
  return guarded("d1", () => statement.first<T>());
}

export async function all<T>(statement: D1PreparedStatement): Promise<T[]> {
  const result = await guarded("d1", () => statement.all<T>());
  return result.results;
}

/**
 * Runs the statements of one change atomically (D1 batches are transactions), audit event
 * included, and returns how many rows each statement changed.
 */
export async function commit(db: D1Database, statements: D1PreparedStatement[]): Promise<number[]> {
  const results = await guarded("d1", () => db.batch(statements));
  return results.map((result) => result.meta.changes);
}

export async function ping(db: D1Database): Promise<void> {
  await first(db.prepare("SELECT 1"));
}
