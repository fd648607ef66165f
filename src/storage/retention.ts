import type { AuditEventRow } from "./audit-events";
import { commit } from "./d1";

/**
 * What retention deletes from usage (tables `usage_hourly` and `usage_failures`), and where
 * audit events go before they are deleted: objects in the R2 bucket `AUDIT_EXPORT`.
 */

/**
 * Deletes up to `limit` rows of each usage table whose hour starts before `before`, oldest first
 * (through the hour indexes of migration 0008), in one batch; returns how many of each went.
 */
export async function deleteUsageBefore(db: D1Database, before: string, limit: number): Promise<{ hourly: number; failures: number }> {
  const [hourly = 0, failures = 0] = await commit(db, [
    db
      .prepare(
        `DELETE FROM usage_hourly WHERE (credential_id, hour) IN
           (SELECT credential_id, hour FROM usage_hourly WHERE hour < ?1 ORDER BY hour LIMIT ?2)`,
      )
      .bind(before, limit),
    db
      .prepare(
        `DELETE FROM usage_failures WHERE (credential_id, hour, reason) IN
           (SELECT credential_id, hour, reason FROM usage_failures WHERE hour < ?1 ORDER BY hour LIMIT ?2)`,
      )
      .bind(before, limit),
  ]);
  return { hourly, failures };
}

/**
 * A page of audit events is one object, named by its first event, so the same page exported
 * again (a run that stopped between the put and the delete) overwrites the same object.
 */
export function auditExportKey(first: Pick<AuditEventRow, "at" | "id">): string {
  return `audit/${first.at}_${first.id}.ndjson`;
}

/**
 * Writes a page of events (oldest first) as newline-delimited JSON, one event per line in the
 * API's shape, and returns the object's key. Throws when the bucket does not take it.
 */
export async function putAuditExport(bucket: R2Bucket, events: AuditEventRow[]): Promise<string> {
  const first = events[0]!;
  const last = events[events.length - 1]!;
  const key = auditExportKey(first);
  const body = events.map((event) => `${JSON.stringify(event)}\n`).join("");
  await bucket.put(key, body, {
    httpMetadata: { contentType: "application/x-ndjson" },
    customMetadata: { first_at: first.at, last_at: last.at, count: String(events.length) },
  });
  return key;
}
