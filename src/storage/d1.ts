import { guarded } from "./guarded";

/** D1 statements, run through `guarded` (./guarded.ts): a failure is StoreUnavailableError. */

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

/**
 * `column = ?` for each filter that is set (null or undefined: not filtered), with its value
 * bound, never spliced. The column names are the caller's literals, never input.
 */
export function equalities(filters: Record<string, string | null | undefined>): { conditions: string[]; values: unknown[] } {
  const set = Object.entries(filters).filter((filter): filter is [string, string] => filter[1] !== null && filter[1] !== undefined);
  return { conditions: set.map(([column]) => `${column} = ?`), values: set.map(([, value]) => value) };
}

/** A LIKE pattern (with ESCAPE '\\') for "contains `text`", its pattern characters taken literally. */
export function contains(text: string): string {
  return `%${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}
