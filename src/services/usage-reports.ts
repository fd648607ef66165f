import { ApiError } from "../http/errors";
import { getAccount } from "../storage/accounts";
import { getCredential } from "../storage/credentials";
import { getOrganization } from "../storage/organizations";
import { type UsageScope, dailyTotals, usageBetween } from "../storage/usage";
import { FAILURE_REASONS, type FailureReason } from "./usage";

/**
 * Reading usage back: the hourly rollups the usage pipeline writes (src/services/usage.ts), as
 * buckets for the usage API and the console's charts. Every bucket of a range is answered once,
 * ascending and UTC-aligned, zeros included, so a chart never has to guess at a gap.
 */

export type Granularity = "hour" | "day";

export const BUCKET_MS: Record<Granularity, number> = { hour: 3_600_000, day: 86_400_000 };

/** The longest range one request covers (the contract): 90 days, 2,160 hourly buckets. */
export const MAX_RANGE_DAYS = 90;

export interface UsageBucket {
  /** Start of the bucket, RFC 3339 UTC. */
  start: string;
  tokens_issued: number;
  verifications: number;
  failures: number;
  failures_by_reason: Record<FailureReason, number>;
}

/** [from, to) in ms, both on a bucket boundary. */
export interface UsageRange {
  from: number;
  to: number;
  granularity: Granularity;
}

/** Why a range cannot be answered, or null: it can. */
export function rangeProblem(range: UsageRange): string | null {
  const size = BUCKET_MS[range.granularity];
  const unit = range.granularity === "hour" ? "a UTC hour" : "a UTC day (midnight)";
  if (range.from % size !== 0) return `from must be the start of ${unit}`;
  if (range.to % size !== 0) return `to must be the start of ${unit}`;
  if (range.to <= range.from) return "to must be after from";
  if (range.to - range.from > MAX_RANGE_DAYS * BUCKET_MS.day) return `from and to must be at most ${MAX_RANGE_DAYS} days apart`;
  return null;
}

/** The range a report covers when `from` or `to` is left out: up to the end of the current bucket, 7 days (hourly) or 30 (daily). */
export function defaultRange(granularity: Granularity, from: number | undefined, to: number | undefined, now = Date.now()): UsageRange {
  const size = BUCKET_MS[granularity];
  const end = to ?? now - (now % size) + size;
  return { granularity, to: end, from: from ?? end - (granularity === "hour" ? 7 : 30) * BUCKET_MS.day };
}

/**
 * The console's charts: the 7 whole UTC days up to and including today, hourly (today's later
 * hours are zeros), so the days line up under the chart. The API's default is the 7 days up to
 * the end of the current hour instead (`defaultRange`).
 */
export function lastSevenDays(now = Date.now()): UsageRange {
  const tomorrow = now - (now % BUCKET_MS.day) + BUCKET_MS.day;
  return { granularity: "hour", from: tomorrow - 7 * BUCKET_MS.day, to: tomorrow };
}

const zeroReasons = (): Record<FailureReason, number> => Object.fromEntries(FAILURE_REASONS.map((reason) => [reason, 0])) as Record<FailureReason, number>;

/** The buckets of a range for a scope that is known to exist (the console has read it already). */
export async function usageReport(env: Env, scope: UsageScope, range: UsageRange): Promise<UsageBucket[]> {
  const problem = rangeProblem(range);
  if (problem) throw new ApiError("invalid_request", problem);
  const size = BUCKET_MS[range.granularity];
  const buckets: UsageBucket[] = [];
  for (let start = range.from; start < range.to; start += size) {
    buckets.push({ start: new Date(start).toISOString(), tokens_issued: 0, verifications: 0, failures: 0, failures_by_reason: zeroReasons() });
  }
  const { hours, failures } = await usageBetween(env.DB, scope, new Date(range.from).toISOString(), new Date(range.to).toISOString());
  const bucketOf = (hour: string) => buckets[Math.floor((Date.parse(hour) - range.from) / size)];
  for (const row of hours) {
    const bucket = bucketOf(row.hour);
    if (!bucket) continue;
    bucket.tokens_issued += row.tokens_issued;
    bucket.verifications += row.verifications;
    bucket.failures += row.failures;
  }
  for (const row of failures) {
    const bucket = bucketOf(row.hour);
    // A reason this version does not know still counts in `failures`.
    if (bucket && row.reason in bucket.failures_by_reason) bucket.failures_by_reason[row.reason as FailureReason] += row.count;
  }
  return buckets;
}

/** A credential's usage. Counts outlive a deleted credential, but the report needs the credential. */
export async function credentialUsage(env: Env, id: string, range: UsageRange): Promise<UsageBucket[]> {
  const [row, buckets] = await Promise.all([getCredential(env.DB, id), usageReport(env, { credentialId: id }, range)]);
  if (!row) throw new ApiError("not_found", "No credential has this id.");
  return buckets;
}

/** An account's usage: the sum over its credentials (the deleted ones no longer count). */
export async function accountUsage(env: Env, id: string, range: UsageRange): Promise<UsageBucket[]> {
  const [row, buckets] = await Promise.all([getAccount(env.DB, id), usageReport(env, { accountId: id }, range)]);
  if (!row) throw new ApiError("not_found", "No account has this id.");
  return buckets;
}

/** An organization's usage: the sum over its credentials, deleted ones included. */
export async function organizationUsage(env: Env, id: string, range: UsageRange): Promise<UsageBucket[]> {
  const [row, buckets] = await Promise.all([getOrganization(env.DB, id), usageReport(env, { organizationId: id }, range)]);
  if (!row) throw new ApiError("not_found", "No organization has this id.");
  return buckets;
}

export interface DailyUsage {
  /** Tokens issued plus verifications, per day, oldest first. */
  requests: number[];
  failures: number[];
}

/** The last `days` UTC days (today included) per credential, for the list's sparklines. */
export async function recentDailyUsage(env: Env, credentialIds: string[], days = 7, now = Date.now()): Promise<Map<string, DailyUsage>> {
  const today = now - (now % BUCKET_MS.day);
  const from = today - (days - 1) * BUCKET_MS.day;
  const usage = new Map(credentialIds.map((id) => [id, { requests: Array<number>(days).fill(0), failures: Array<number>(days).fill(0) }]));
  for (const row of await dailyTotals(env.DB, credentialIds, new Date(from).toISOString())) {
    const day = Math.round((Date.parse(`${row.day}T00:00:00Z`) - from) / BUCKET_MS.day);
    const series = usage.get(row.credential_id);
    if (!series || day < 0 || day >= days) continue;
    series.requests[day] = row.requests;
    series.failures[day] = row.failures;
  }
  return usage;
}
