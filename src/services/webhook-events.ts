import type { AuditGuard } from "../storage/audit-events";
import { insertEvent, insertEventAfterAudit, insertEventIf } from "../storage/webhooks";
import { newId } from "./ids";

/**
 * The events Keymint sends (contract "Webhooks"), and how a change records one: in the same D1
 * batch as the change, right after its audit event, so an event exists exactly when its change
 * committed (an outbox). src/services/webhook-outbox.ts sends them to the WEBHOOKS queue.
 */

export const EVENT_TYPES = [
  "credential.created",
  "credential.updated",
  "credential.rolled",
  "credential.deleted",
  "credential.leaked",
  "credential.expiring",
  "credential.expired",
  "account.created",
  "account.deactivated",
  "account.activated",
  "account.deleted",
  "organization.created",
  "organization.deactivated",
  "organization.activated",
  "organization.deleted",
  "api.created",
  "api.updated",
  "api.deleted",
  "webhook.test",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/**
 * The event of a change: a statement to put in the change's batch right after the audit event
 * that records it (it is written only if that was). `data` is the object after the change as
 * the admin API shows it (before it, for a deletion): never a secret.
 */
export function eventAfterAudit(db: D1Database, type: EventType, at: string, data: object): D1PreparedStatement {
  return insertEventAfterAudit(db, newId("msg"), type, at, data);
}

/** An event of a change in this batch that is not right after its audit event: written while `guard` holds. */
export function eventIf(db: D1Database, type: EventType, organizationId: string | null, at: string, data: object, guard: AuditGuard): D1PreparedStatement {
  return insertEventIf(db, { id: newId("msg"), type, organization_id: organizationId, at, data }, guard);
}

/** An event no change of this batch records (a test event for one endpoint, an expiry notice). */
export function standaloneEvent(
  db: D1Database,
  event: { id?: string; type: EventType; organization_id: string | null; at: string; data: object; endpoint_id?: string; dedupe_key?: string },
): D1PreparedStatement {
  return insertEvent(db, { ...event, id: event.id ?? newId("msg") });
}
