import { type UsageRow, usageStatements } from "../storage/usage";
import { commit } from "../storage/d1";
import type { Deferrer } from "./deferrer";

/**
 * Usage without a D1 write per request: each isolate counts in memory and, USAGE_FLUSH_SECONDS
 * after its first uncounted event, sends what it has as one Queue message (binding USAGE). The
 * consumer (`applyUsage`, this Worker's `queue` handler) adds a batch of messages up and writes
 * one D1 batch: a few statements per distinct credential and hour, however many requests.
 *
 * What this costs and loses (docs/architecture.md, "Usage"):
 *   - Queue messages: at most one per isolate per flush window, whatever the traffic.
 *   - `last_used_at` is accurate to 5 minutes (LAST_USED_RESOLUTION_MS) plus the flush window
 *     and the queue's batch timeout (10 s + 5 s with the defaults), and never moves backwards.
 *   - An isolate that dies between an event and its flush loses that window's counts.
 */

/** Why a known credential failed; the usage charts group failures by these. */
export const FAILURE_REASONS = ["wrong_secret", "ip_not_allowed", "expired", "revoked", "inactive", "deleted", "wrong_audience", "invalid_dpop_proof"] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/**
 * What one request did with a credential. `used` with `previousSecretGraceEnds`: the previous
 * secret of the grace ending then (its `previous_secret_expires_at`) authenticated.
 */
export type UsageEvent =
  | { kind: "used"; previousSecretGraceEnds?: string }
  | { kind: "token_issued" }
  | { kind: "verification" }
  | { kind: "failure"; reason: FailureReason };

interface Tally {
  credentialId: string;
  /** Start of the UTC hour the events fell in (ms). */
  hour: number;
  lastUsedAt: number | null;
  /** The previous secret's last use, and the grace it belongs to (its end). */
  previousSecret: { lastUsedAt: number; graceEnds: string } | null;
  tokensIssued: number;
  verifications: number;
  failures: Partial<Record<FailureReason, number>>;
}

/** One Queue message: what one isolate counted in one window. */
export interface UsageMessage {
  v: 1;
  usage: UsageRow[];
}

const HOUR_MS = 3_600_000;
/** A message stays far below the Queue's 128 KB limit at this many rows (about 200 bytes each). */
const ROWS_PER_MESSAGE = 400;
export const DEFAULT_FLUSH_SECONDS = 10;

const pending = new Map<string, Tally>();
let flushScheduled = false;

function flushSeconds(env: Env): number {
  const n = Number(env.USAGE_FLUSH_SECONDS);
  return Number.isFinite(n) && n >= 0 && env.USAGE_FLUSH_SECONDS !== "" ? n : DEFAULT_FLUSH_SECONDS;
}

/** Counts one event for a credential. No I/O; the flush goes through `ctx.waitUntil`. */
export function recordUsage(env: Env, ctx: Deferrer | undefined, credentialId: string, event: UsageEvent): void {
  if (!env.USAGE || !ctx) return;
  const now = Date.now();
  const hour = now - (now % HOUR_MS);
  const id = `${credentialId}|${hour}`;
  let tally = pending.get(id);
  if (!tally) {
    tally = { credentialId, hour, lastUsedAt: null, previousSecret: null, tokensIssued: 0, verifications: 0, failures: {} };
    pending.set(id, tally);
  }
  if (event.kind === "failure") tally.failures[event.reason] = (tally.failures[event.reason] ?? 0) + 1;
  else {
    tally.lastUsedAt = now;
    if (event.kind === "used" && event.previousSecretGraceEnds !== undefined) tally.previousSecret = { lastUsedAt: now, graceEnds: event.previousSecretGraceEnds };
    if (event.kind === "token_issued") tally.tokensIssued++;
    if (event.kind === "verification") tally.verifications++;
  }
  if (!flushScheduled) {
    flushScheduled = true;
    ctx.waitUntil(scheduler.wait(flushSeconds(env) * 1000).then(() => flushUsage(env)));
  }
}

function toRow(tally: Tally): UsageRow {
  const failures = Object.values(tally.failures).reduce((sum, n) => sum + (n ?? 0), 0);
  return {
    credential_id: tally.credentialId,
    hour: new Date(tally.hour).toISOString(),
    last_used_at: tally.lastUsedAt === null ? null : new Date(tally.lastUsedAt).toISOString(),
    previous_secret: tally.previousSecret && { last_used_at: new Date(tally.previousSecret.lastUsedAt).toISOString(), grace_ends: tally.previousSecret.graceEnds },
    tokens_issued: tally.tokensIssued,
    verifications: tally.verifications,
    failures,
    failures_by_reason: tally.failures,
  };
}

/** Sends what this isolate has counted. */
async function flushUsage(env: Env): Promise<void> {
  flushScheduled = false;
  if (pending.size === 0 || !env.USAGE) return;
  const rows = [...pending.values()].map(toRow);
  pending.clear();
  const messages: { body: UsageMessage }[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_MESSAGE) messages.push({ body: { v: 1, usage: rows.slice(i, i + ROWS_PER_MESSAGE) } });
  try {
    await env.USAGE.sendBatch(messages);
  } catch {
    // Counting is never worth failing a request over; the loss is logged, not retried.
    console.error(JSON.stringify({ event: "usage_flush_failed", rows: rows.length }));
  }
}

/** D1 statements per consumer batch, kept well under D1's limits for one batch. */
const STATEMENTS_PER_BATCH = 500;

/** The Queue consumer: adds the messages up and writes them in as few D1 batches as it can. */
export async function applyUsage(env: Env, messages: readonly { body: unknown }[]): Promise<number> {
  const merged = new Map<string, UsageRow>();
  for (const message of messages) {
    const body = message.body as UsageMessage;
    if (body?.v !== 1 || !Array.isArray(body.usage)) continue;
    for (const row of body.usage) {
      const id = `${row.credential_id}|${row.hour}`;
      const seen = merged.get(id);
      if (!seen) {
        merged.set(id, { ...row, failures_by_reason: { ...row.failures_by_reason } });
        continue;
      }
      seen.tokens_issued += row.tokens_issued;
      seen.verifications += row.verifications;
      seen.failures += row.failures;
      if (row.last_used_at !== null && (seen.last_used_at === null || row.last_used_at > seen.last_used_at)) seen.last_used_at = row.last_used_at;
      if (row.previous_secret && (!seen.previous_secret || row.previous_secret.last_used_at > seen.previous_secret.last_used_at)) seen.previous_secret = row.previous_secret;
      for (const [reason, n] of Object.entries(row.failures_by_reason)) {
        const key = reason as FailureReason;
        seen.failures_by_reason[key] = (seen.failures_by_reason[key] ?? 0) + (n ?? 0);
      }
    }
  }
  const statements = [...merged.values()].flatMap((row) => usageStatements(env.DB, row));
  for (let i = 0; i < statements.length; i += STATEMENTS_PER_BATCH) await commit(env.DB, statements.slice(i, i + STATEMENTS_PER_BATCH));
  return merged.size;
}
