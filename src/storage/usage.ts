import { recordLastUsed, recordPreviousSecretUsed } from "./credentials";
import { all } from "./d1";

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
  /** The previous secret's last use in this hour, during the grace that ends at `grace_ends`. Absent in older messages. */
  previous_secret?: { last_used_at: string; grace_ends: string } | null;
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
  if (row.previous_secret) statements.push(recordPreviousSecretUsed(db, row.credential_id, row.previous_secret.last_used_at, row.previous_secret.grace_ends));
  return statements;
}

/** Whose usage a report covers: one credential, or every credential of an account (the live ones). */
export type UsageScope = { credentialId: string } | { accountId: string } | { organizationId: string };

export interface HourCounts {
  hour: string;
  tokens_issued: number;
  verifications: number;
  failures: number;
}

export interface HourFailures {
  hour: string;
  reason: string;
  count: number;
}

/** The hourly rows of one scope with `hour` in [from, to): two reads, sent together. */
export async function usageBetween(db: D1Database, scope: UsageScope, from: string, to: string): Promise<{ hours: HourCounts[]; failures: HourFailures[] }> {
  // Only fixed SQL is put together here; the values are bound.
  const [join, owner, id] =
    "accountId" in scope
      ? ["JOIN credentials c ON c.id = u.credential_id", "c.account_id", scope.accountId]
      : "organizationId" in scope
        ? // Deleted credentials included; one deleted before organizations has no row and was org_default's.
          ["LEFT JOIN credential_organizations m ON m.credential_id = u.credential_id", "coalesce(m.organization_id, 'org_default')", scope.organizationId]
        : ["", "u.credential_id", scope.credentialId];
  const where = `${join} WHERE ${owner} = ?1 AND u.hour >= ?2 AND u.hour < ?3 GROUP BY u.hour`;
  const [hours, failures] = await Promise.all([
    all<HourCounts>(
      db
        .prepare(
          `SELECT u.hour AS hour, SUM(u.tokens_issued) AS tokens_issued, SUM(u.verifications) AS verifications, SUM(u.failures) AS failures
           FROM usage_hourly u ${where}`,
        )
        .bind(id, from, to),
    ),
    all<HourFailures>(db.prepare(`SELECT u.hour AS hour, u.reason AS reason, SUM(u.count) AS count FROM usage_failures u ${where}, u.reason`).bind(id, from, to)),
  ]);
  return { hours, failures };
}

export interface DayTotals {
  credential_id: string;
  /** YYYY-MM-DD (UTC). */
  day: string;
  /** Tokens issued plus verifications. */
  requests: number;
  failures: number;
}

/** D1 binds at most 100 parameters per statement: `from` and this many ids. */
const IDS_PER_STATEMENT = 99;

/** Per credential and UTC day since `from`: the list's sparklines, one read per 99 credentials. */
export async function dailyTotals(db: D1Database, credentialIds: string[], from: string): Promise<DayTotals[]> {
  const reads: Promise<DayTotals[]>[] = [];
  for (let i = 0; i < credentialIds.length; i += IDS_PER_STATEMENT) {
    const ids = credentialIds.slice(i, i + IDS_PER_STATEMENT);
    const list = ids.map((_, n) => `?${n + 2}`).join(", ");
    reads.push(
      all<DayTotals>(
        db
          .prepare(
            `SELECT credential_id, substr(hour, 1, 10) AS day, SUM(tokens_issued + verifications) AS requests, SUM(failures) AS failures
             FROM usage_hourly WHERE hour >= ?1 AND credential_id IN (${list}) GROUP BY credential_id, day`,
          )
          .bind(from, ...ids),
      ),
    );
  }
  return (await Promise.all(reads)).flat();
}
