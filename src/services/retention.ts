import { deleteAuditEvents, listAuditEventsBefore } from "../storage/audit-events";
import { deleteUsageBefore, putAuditExport } from "../storage/retention";
import { nowIso } from "./ids";
import { BUCKET_MS } from "./usage-reports";

/**
 * How long usage and audit events are kept, run by the cron (src/services/maintenance.ts). Each
 * run's work is bounded, so a backlog (retention switched on over a long history) drains over
 * several runs instead of timing out in one.
 */

/** USAGE_RETENTION_DAYS when it is empty or not a positive whole number. */
export const DEFAULT_USAGE_RETENTION_DAYS = 90;

/**
 * Usage rows deleted per statement, per table. A statement finds them through its hour index and
 * stays far inside D1's 30 s query limit (10,000 rows took 44 ms in local D1).
 */
export const USAGE_PRUNE_CHUNK = 10_000;

/**
 * Statements per table per run: at most 200,000 rows of each usage table a run, 800,000 an hour
 * at one run every 15 minutes (one hour of rows ages out each hour: 800,000 active credentials).
 */
export const USAGE_PRUNE_CHUNKS_PER_RUN = 20;

/** Audit events per exported object (one JSON line each, a few hundred bytes). */
export const AUDIT_EXPORT_PAGE = 1_000;

/**
 * Objects per run: at most 10,000 audit events exported and pruned a run (40,000 an hour), and
 * at most 10 days of them, since a page holds one day.
 */
export const AUDIT_EXPORT_PAGES_PER_RUN = 10;


/** The start of the UTC hour or day holding `ms`, as stored. */
function startOf(ms: number, unitMs: number): string {
  return nowIso(ms - (ms % unitMs));
}

/** The longest retention taken (100 years): past it a cut-off would fall before year 0 and no date could say it. */
const MAX_RETENTION_DAYS = 36_500;

function wholeDays(value: string | undefined): number | null {
  const days = Number(value);
  return value && Number.isInteger(days) && days > 0 ? Math.min(days, MAX_RETENTION_DAYS) : null;
}

/** USAGE_RETENTION_DAYS: a positive whole number of days, else the default. */
export function usageRetentionDays(env: Env): number {
  return wholeDays(env.USAGE_RETENTION_DAYS) ?? DEFAULT_USAGE_RETENTION_DAYS;
}

/** AUDIT_RETENTION_DAYS: a positive whole number of days, or null (empty or anything else): kept forever. */
export function auditRetentionDays(env: Env): number | null {
  return wholeDays(env.AUDIT_RETENTION_DAYS);
}

/**
 * Deletes the usage rows of hours that ended before now minus the retention: the hour holding
 * that moment stays, the one before it goes.
 */
export async function pruneUsage(env: Env, nowMs: number): Promise<{ hourly: number; failures: number }> {
  const cutoff = nowMs - usageRetentionDays(env) * BUCKET_MS.day;
  const before = startOf(cutoff, BUCKET_MS.hour);
  const pruned = { hourly: 0, failures: 0 };
  for (let chunk = 0; chunk < USAGE_PRUNE_CHUNKS_PER_RUN; chunk++) {
    const deleted = await deleteUsageBefore(env.DB, before, USAGE_PRUNE_CHUNK);
    pruned.hourly += deleted.hourly;
    pruned.failures += deleted.failures;
    if (deleted.hourly < USAGE_PRUNE_CHUNK && deleted.failures < USAGE_PRUNE_CHUNK) break;
  }
  return pruned;
}

export interface AuditRetentionResult {
  /** Events written to AUDIT_EXPORT this run. */
  exported: number;
  /** Events deleted from D1 this run. */
  pruned: number;
  /** Why this run deleted nothing, or stopped before its bound. */
  stopped?: "kept_forever" | "no_export_bucket" | "export_failed" | "failed";
}

/**
 * With AUDIT_RETENTION_DAYS set, exports the events of the UTC days that ended before now minus
 * that many days to the AUDIT_EXPORT bucket, a page (one object) at a time, oldest first, and
 * deletes each page once its object is written. A page that was not written is not deleted. With
 * no bucket bound nothing is deleted, unless AUDIT_PRUNE_WITHOUT_EXPORT is "true"; with a bucket,
 * the export always comes first.
 *
 * A page holds events of one day only, and that day is over: no event can join it, so a page is
 * fixed by its first event. A run that stopped between the put and the delete, or two runs at
 * once, write the same object under the same key with the same bytes.
 */
export async function exportAndPruneAuditEvents(env: Env, nowMs: number): Promise<AuditRetentionResult> {
  const result: AuditRetentionResult = { exported: 0, pruned: 0 };
  const days = auditRetentionDays(env);
  if (days === null) return { ...result, stopped: "kept_forever" };
  const bucket: R2Bucket | undefined = env.AUDIT_EXPORT;
  if (!bucket && env.AUDIT_PRUNE_WITHOUT_EXPORT !== "true") {
    console.log(
      JSON.stringify({
        event: "audit_retention_skipped",
        reason: "AUDIT_RETENTION_DAYS is set but no AUDIT_EXPORT bucket is bound; nothing is pruned unless AUDIT_PRUNE_WITHOUT_EXPORT is \"true\"",
      }),
    );
    return { ...result, stopped: "no_export_bucket" };
  }
  const cutoff = nowMs - days * BUCKET_MS.day;
  const before = startOf(cutoff, BUCKET_MS.day);
  for (let page = 0; page < AUDIT_EXPORT_PAGES_PER_RUN; page++) {
    const oldest = await listAuditEventsBefore(env.DB, before, AUDIT_EXPORT_PAGE);
    if (oldest.length === 0) break;
    const day = oldest[0]!.at.slice(0, "YYYY-MM-DD".length);
    const events = oldest.filter((event) => event.at.startsWith(day));
    if (bucket) {
      try {
        await putAuditExport(bucket, events);
      } catch (error) {
        console.error(JSON.stringify({ event: "audit_export_failed", events: events.length, error: String(error) }));
        return { ...result, stopped: "export_failed" };
      }
      result.exported += events.length;
    }
    result.pruned += await deleteAuditEvents(
      env.DB,
      events.map((event) => event.id),
    );
    if (oldest.length < AUDIT_EXPORT_PAGE && events.length === oldest.length) break; // nothing older is left
  }
  return result;
}
