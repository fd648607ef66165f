import { recordLastUsed } from "./credentials";

/** `last_used_at` is kept to this resolution: written at most once per this long per credential. */
export const LAST_USED_RESOLUTION_MS = 5 * 60_000;

/**
 * Hourly usage per credential (tables `usage_hourly` and `usage_failures`), written only by
 * the usage Queue's consumer, a few statements per credential and hour (src/services/usage.ts).
 */
export interface UsageRow {
  credential_id: string;
  /** Start of the UTC hour, RFC 3339. */
  hour: string;
  last_used_at: string | null;
  tokens_issued: number;
  verifications: number;
  failures: number;
  failures_by_reason: Partial<Record<string, number>>;
}

/** Adds one row's counts (upserts) and moves `last_used_at` forward. */
export function usageStatements(db: D1Database, row: UsageRow): D1PreparedStatement[] {
  const statements = [
    db
      .prepare(
        `INSERT INTO usage_hourly (credential_id, hour, tokens_issued, verifications, failures) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (credential_id, hour) DO UPDATE SET
           tokens_issued = tokens_issued + excluded.tokens_issued,
           verifications = verifications + excluded.verifications,
           failures = failures + excluded.failures`,
      )
      .bind(row.credential_id, row.hour, row.tokens_issued, row.verifications, row.failures),
    ...Object.entries(row.failures_by_reason).map(([reason, count]) =>
      db
        .prepare(
          `INSERT INTO usage_failures (credential_id, hour, reason, count) VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT (credential_id, hour, reason) DO UPDATE SET count = count + excluded.count`,
        )
        .bind(row.credential_id, row.hour, reason, count ?? 0),
    ),
  ];
  if (row.last_used_at !== null) {
    const notSince = new Date(Date.parse(row.last_used_at) - LAST_USED_RESOLUTION_MS).toISOString();
    statements.push(recordLastUsed(db, row.credential_id, row.last_used_at, notSince));
  }
  return statements;
}
