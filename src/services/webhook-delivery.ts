import { Webhook } from "standardwebhooks";
import { insertAuditEvent, IF_CHANGED } from "../storage/audit-events";
import { commit } from "../storage/d1";
import { type DeliveryRow, disableFailingEndpoint, getEndpoint, getEvent, insertDelivery, recordOutcome } from "../storage/webhooks";
import { newId, nowIso } from "./ids";
import { signingSecrets } from "./webhooks";

/**
 * The WEBHOOKS queue's consumer: one message is one attempt to deliver one event to one endpoint.
 * It signs with `standardwebhooks` (the maintained library; every attempt re-signed at its own
 * time, the same `webhook-id` on each), posts with a 10 s timeout and no redirect followed, and
 * records the attempt. A 2xx delivers; anything else is retried as a new message with the next
 * delay of the schedule (WEBHOOK_RETRY_SCHEDULE, else RETRY_DELAYS: about 27 hours in all). An
 * endpoint whose attempts have all failed for FAILING_DAYS is disabled.
 *
 * A message is acknowledged only once its attempt is recorded (and its retry queued): a consumer
 * that dies half-way leaves the rest of its batch to the Queue's redelivery, so nothing is lost;
 * at worst an attempt is made twice, with the same webhook-id.
 */

export interface DeliveryMessage {
  event_id: string;
  endpoint_id: string;
  attempt: number;
}

/** Seconds to wait after attempt n (1-based) before attempt n+1: Standard Webhooks' suggested schedule. */
const RETRY_DELAYS = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];
const TIMEOUT_MS = 10_000;
const FAILING_DAYS = 5;
/** A queue message's delay is at most 12 hours. */
const MAX_DELAY_SECONDS = 43_200;

function retryDelays(env: Env): number[] {
  const given = (env.WEBHOOK_RETRY_SCHEDULE ?? "").trim();
  if (given === "") return RETRY_DELAYS;
  const delays = given.split(",").map((part) => Number(part.trim()));
  return delays.every((delay) => Number.isInteger(delay) && delay >= 0 && delay <= MAX_DELAY_SECONDS) ? delays : RETRY_DELAYS;
}

type Outcome = { ok: true; status: number } | { ok: false; status: number | null; error: string };

/** One POST: the signed body, a 10 s budget for the whole answer's head, no redirect followed. */
async function post(url: string, headers: Record<string, string>, body: string): Promise<Outcome> {
  try {
    const response = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(TIMEOUT_MS) });
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
    const error = response.status >= 300 && response.status < 400 ? `redirect to elsewhere (${response.status}), not followed` : `HTTP ${response.status}`;
    return { ok: false, status: response.status, error };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    return { ok: false, status: null, error: name === "TimeoutError" || name === "AbortError" ? "no answer within 10 s" : "connection failed" };
  }
}

/** Makes one attempt and records it; returns false when there was nothing to deliver (the event or endpoint is gone, or disabled). */
async function deliver(env: Env, message: DeliveryMessage): Promise<boolean> {
  const [event, endpoint] = await Promise.all([getEvent(env.DB, message.event_id), getEndpoint(env.DB, message.endpoint_id)]);
  if (!event || !endpoint || endpoint.status !== "enabled") return false;
  const sentAt = new Date();
  // A secret sealed under a KEY_ENCRYPTION_KEY since replaced cannot sign: a failed attempt (the
  // log says why, and the endpoint is disabled in time), never a message retried forever.
  const secrets = await signingSecrets(env, endpoint, sentAt.getTime()).catch(() => null);
  const outcome: Outcome =
    secrets === null
      ? { ok: false, status: null, error: "its signing secret cannot be opened (was KEY_ENCRYPTION_KEY replaced?): roll it" }
      : await post(
          endpoint.url,
          {
            "content-type": "application/json",
            "user-agent": "Keymint-Webhooks/1",
            "webhook-id": event.id,
            "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
            "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(event.id, sentAt, event.payload)).join(" "),
          },
          event.payload,
        );
  const at = nowIso();
  const delays = retryDelays(env);
  const delay = outcome.ok ? undefined : delays[message.attempt - 1];
  const row: DeliveryRow = {
    id: newId("whd"),
    endpoint_id: endpoint.id,
    event_id: event.id,
    event_type: event.type,
    attempt: message.attempt,
    status: outcome.ok ? "succeeded" : "failed",
    status_code: outcome.status,
    error: outcome.ok ? null : outcome.error,
    at,
    next_attempt_at: delay === undefined ? null : nowIso(Date.parse(at) + delay * 1000),
  };
  const [, , disabled] = await commit(env.DB, [
    insertDelivery(env.DB, row),
    recordOutcome(env.DB, endpoint.id, outcome.ok, at),
    disableFailingEndpoint(env.DB, endpoint.id, nowIso(Date.parse(at) - FAILING_DAYS * 86_400_000), at),
    insertAuditEvent(env.DB, { actor: "system", channel: "system", ip: null }, at, { action: "webhook.disable", target_type: "webhook", target_id: endpoint.id, target_name: endpoint.url, detail: `every attempt failed for ${FAILING_DAYS} days` }, IF_CHANGED),
  ]);
  if (delay !== undefined && !disabled) {
    await env.WEBHOOKS.send({ ...message, attempt: message.attempt + 1 } satisfies DeliveryMessage, { delaySeconds: delay });
  }
  return true;
}

/** The consumer: every message of the batch at once; each acknowledged once recorded, else retried by the Queue. */
export async function applyWebhookDeliveries(env: Env, messages: readonly Message<unknown>[]): Promise<void> {
  await Promise.all(
    messages.map(async (message) => {
      try {
        await deliver(env, message.body as DeliveryMessage);
        message.ack();
      } catch (error) {
        console.error(JSON.stringify({ event: "webhook_delivery_failed", error: error instanceof Error ? error.name : String(error) }));
        message.retry();
      }
    }),
  );
}
