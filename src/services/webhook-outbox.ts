import { all, commit } from "../storage/d1";
import { type EventRow, claimUnsentEvents, markEventsSent } from "../storage/webhooks";
import type { Deferrer } from "./deferrer";
import { nowIso } from "./ids";
import type { DeliveryMessage } from "./webhook-delivery";

/**
 * Sends the outbox (webhook_events written in the batches of their changes) to the WEBHOOKS
 * queue: one message per event and subscribed endpoint, attempt 1. Called after every admin
 * change (in the background: a delivery never holds up the request that caused it) and by the
 * cron, which catches up on whatever a failed sender left.
 *
 * At least once: a sender claims a page of events for CLAIM_SECONDS, sends, then marks them sent.
 * One that dies between the send and the mark leaves its claim to lapse, and the events go again
 * (with the same webhook-id, which receivers deduplicate by).
 */

const CLAIM_SECONDS = 60;
const PAGE = 50;
/** Pages per call: enough for any admin request's events; the cron takes the rest. */
const MAX_PAGES = 10;

/** The enabled endpoints of these events' organizations (and the platform's), in one read. */
async function candidates(db: D1Database, events: EventRow[]) {
  const organizations = [...new Set(events.map((event) => event.organization_id).filter((id): id is string => id !== null))];
  return all<{ id: string; events: string; organization_id: string | null }>(
    db
      .prepare(`SELECT id, events, organization_id FROM webhook_endpoints WHERE status = 'enabled' AND (organization_id IS NULL OR organization_id IN (SELECT value FROM json_each(?)))`)
      .bind(JSON.stringify(organizations)),
  );
}

/** The endpoints an event goes to: its own (a test event), or every enabled one subscribed to it. */
function recipients(event: EventRow, endpoints: Awaited<ReturnType<typeof candidates>>): string[] {
  if (event.endpoint_id !== null) return [event.endpoint_id];
  return endpoints
    .filter((endpoint) => endpoint.organization_id === null || endpoint.organization_id === event.organization_id)
    .filter((endpoint) => {
      const types = JSON.parse(endpoint.events) as string[];
      return types.includes("*") || types.includes(event.type);
    })
    .map((endpoint) => endpoint.id);
}

export async function sendOutbox(env: Env, now = Date.now()): Promise<number> {
  let sent = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const events = await claimUnsentEvents(env.DB, nowIso(now), nowIso(now + CLAIM_SECONDS * 1000), PAGE);
    if (events.length === 0) break;
    const endpoints = await candidates(env.DB, events);
    const messages: MessageSendRequest<DeliveryMessage>[] = events.flatMap((event) =>
      recipients(event, endpoints).map((endpoint_id) => ({ body: { event_id: event.id, endpoint_id, attempt: 1 } })),
    );
    for (let i = 0; i < messages.length; i += 100) await env.WEBHOOKS.sendBatch(messages.slice(i, i + 100));
    await commit(env.DB, [markEventsSent(env.DB, events.map((event) => event.id), nowIso())]);
    sent += messages.length;
    if (events.length < PAGE) break;
  }
  return sent;
}

/** After a change: the outbox goes to the queue in the background; a failure is logged and left to the cron. */
export function sendOutboxLater(env: Env, ctx: Deferrer): void {
  ctx.waitUntil(
    sendOutbox(env).catch((error: unknown) => console.error(JSON.stringify({ event: "webhook_outbox_failed", error: error instanceof Error ? error.name : String(error) }))),
  );
}
