import { clearExpiredPreviousSecrets } from "../storage/credentials";
import { commit } from "../storage/d1";
import { deleteIdempotencyKeysBefore } from "../storage/idempotency-keys";
import { nowIso } from "./ids";
import { rotateSigningKeys } from "./signing-keys";

/** Idempotency keys are honoured for a day (as in Stripe's API). */
export const IDEMPOTENCY_KEY_LIFETIME_SECONDS = 86_400;

/** The cron's work: rotate signing keys and forget previous secrets whose grace has ended. */
export async function runScheduledMaintenance(env: Env, now: number) {
  const rotation = await rotateSigningKeys(env, now);
  await commit(env.DB, [
    clearExpiredPreviousSecrets(env.DB, nowIso(now * 1000)),
    deleteIdempotencyKeysBefore(env.DB, nowIso((now - IDEMPOTENCY_KEY_LIFETIME_SECONDS) * 1000)),
  ]);
  console.log(JSON.stringify({ event: "scheduled", created_key: rotation.created, removed_keys: rotation.removed.length }));
  return rotation;
}
