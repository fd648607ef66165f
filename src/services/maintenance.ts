import { clearExpiredPreviousSecrets } from "../storage/credentials";
import { commit } from "../storage/d1";
import { deleteIdempotencyKeysBefore } from "../storage/idempotency-keys";
import { nowIso } from "./ids";
import { backfillEdgeEntries } from "./edge-entries";
import { exportAndPruneAuditEvents, pruneUsage } from "./retention";
import { rotateSigningKeys } from "./signing-keys";
import { pruneWebhookHistory } from "../storage/webhooks";
import { recordExpiryNotices } from "./webhook-notices";
import { sendOutbox } from "./webhook-outbox";

/** Idempotency keys are honoured for a day (as in Stripe's API). */
export const IDEMPOTENCY_KEY_LIFETIME_SECONDS = 86_400;

/** Backfill pages per cron run: at most about 800 KV writes, under a run's 1,000 KV calls. */
const BACKFILL_PAGES_PER_RUN = 4;

/** Webhook events and deliveries are kept this long, for the deliveries log. */
export const WEBHOOK_HISTORY_DAYS = 30;

async function runWebhookMaintenance(env: Env, now: number): Promise<{ notices: number; sent: number }> {
  const notices = await recordExpiryNotices(env, now);
  const sent = await sendOutbox(env, now);
  await commit(env.DB, pruneWebhookHistory(env.DB, nowIso(now - WEBHOOK_HISTORY_DAYS * 86_400_000), 10_000));
  return { notices, sent };
}

/**
 * The cron's work: rotate signing keys, forget previous secrets whose grace has ended, (until it
 * is done) backfill edge entries for credentials made before the read model, record and send
 * webhook events (expiry notices, and what the outbox still holds), and apply the retention of
 * usage, audit events and webhook history (src/services/retention.ts).
 */
export async function runScheduledMaintenance(env: Env, now: number) {
  const rotation = await rotateSigningKeys(env, now);
  await commit(env.DB, [
    clearExpiredPreviousSecrets(env.DB, nowIso(now * 1000)),
    deleteIdempotencyKeysBefore(env.DB, nowIso((now - IDEMPOTENCY_KEY_LIFETIME_SECONDS) * 1000)),
  ]);
  const backfill = await backfillEdgeEntries(env, BACKFILL_PAGES_PER_RUN);
  // Webhooks: expiry notices, then whatever the outbox holds (what a failed sender left included),
  // then the history past its retention.
  const webhooks = await runWebhookMaintenance(env, now * 1000).catch((error: unknown) => {
    console.error(JSON.stringify({ event: "webhook_maintenance_failed", error: String(error) }));
    return { notices: 0, sent: 0 };
  });
  // Each retention step on its own: one that fails (a D1 error) is logged and leaves the other to run.
  const usage = await pruneUsage(env, now * 1000).catch((error: unknown) => {
    console.error(JSON.stringify({ event: "usage_retention_failed", error: String(error) }));
    return { hourly: 0, failures: 0 };
  });
  const audit = await exportAndPruneAuditEvents(env, now * 1000).catch((error: unknown) => {
    console.error(JSON.stringify({ event: "audit_retention_failed", error: String(error) }));
    return { exported: 0, pruned: 0, stopped: "failed" as const };
  });
  console.log(
    JSON.stringify({
      event: "scheduled",
      created_key: rotation.created,
      removed_keys: rotation.removed.length,
      backfilled: backfill.written,
      backfill_done: backfill.done,
      usage_pruned: usage.hourly,
      usage_failures_pruned: usage.failures,
      audit_exported: audit.exported,
      audit_pruned: audit.pruned,
      webhook_notices: webhooks.notices,
      webhook_messages_sent: webhooks.sent,
      ...(audit.stopped && audit.stopped !== "kept_forever" ? { audit_stopped: audit.stopped } : {}),
    }),
  );
  return rotation;
}
