import { all, equalities, first } from "./d1";
import type { Position } from "./pagination";

/** Webhook endpoints, the outbox of events and each delivery attempt (migration 0012). */

export type EndpointStatus = "enabled" | "disabled";

export interface EndpointRow {
  id: string;
  url: string;
  /** JSON array of event types, or ["*"]. */
  events: string;
  organization_id: string | null;
  description: string | null;
  status: EndpointStatus;
  sealed_secret: string;
  sealed_previous_secret: string | null;
  previous_secret_expires_at: string | null;
  failing_since: string | null;
  created_at: string;
  updated_at: string;
}

const ENDPOINT_COLUMNS =
  "id, url, events, organization_id, description, status, sealed_secret, sealed_previous_secret, previous_secret_expires_at, failing_since, created_at, updated_at";

/** Inserts the endpoint, only while its organization (if it names one) exists; else no row changes. */
export function insertEndpoint(db: D1Database, row: EndpointRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO webhook_endpoints (${ENDPOINT_COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12
       WHERE ?4 IS NULL OR EXISTS (SELECT 1 FROM organizations WHERE id = ?4)`,
    )
    .bind(row.id, row.url, row.events, row.organization_id, row.description, row.status, row.sealed_secret, row.sealed_previous_secret, row.previous_secret_expires_at, row.failing_since, row.created_at, row.updated_at);
}

export function getEndpoint(db: D1Database, id: string): Promise<EndpointRow | null> {
  return first<EndpointRow>(db.prepare(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?`).bind(id));
}

/** Newest first; with `organizationId`, that organization's only. */
export function listEndpoints(db: D1Database, organizationId: string | null, limit: number, after: Position | null): Promise<EndpointRow[]> {
  const { conditions, values } = equalities({ organization_id: organizationId });
  if (after) {
    conditions.push("(created_at, id) < (?, ?)");
    values.push(after.time, after.id);
  }
  const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
  return all<EndpointRow>(db.prepare(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ${where} ORDER BY created_at DESC, id DESC LIMIT ?`).bind(...values, limit));
}

export type EndpointChanges = Partial<Pick<EndpointRow, "url" | "events" | "description" | "status" | "sealed_secret" | "sealed_previous_secret" | "previous_secret_expires_at" | "failing_since">>;

/** Applies the changes only if the row is still at `version` (its updated_at when read). */
export function updateEndpoint(db: D1Database, id: string, changes: EndpointChanges, version: string, updatedAt: string): D1PreparedStatement {
  const fields = Object.keys(changes) as (keyof EndpointChanges)[];
  const sets = [...fields.map((field) => `${field} = ?`), "updated_at = ?"].join(", ");
  return db.prepare(`UPDATE webhook_endpoints SET ${sets} WHERE id = ? AND updated_at = ?`).bind(...fields.map((field) => changes[field] ?? null), updatedAt, id, version);
}

export function deleteEndpoint(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM webhook_endpoints WHERE id = ?").bind(id);
}

/** An organization's endpoints, once the organization is gone (in the batch that deletes it). */
export function deleteEndpointsOfDeletedOrganization(db: D1Database, organizationId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM webhook_endpoints WHERE organization_id = ?1 AND NOT EXISTS (SELECT 1 FROM organizations WHERE id = ?1)").bind(organizationId);
}

// ---- the outbox ------------------------------------------------------------------------------

export interface EventRow {
  id: string;
  type: string;
  organization_id: string | null;
  payload: string;
  endpoint_id: string | null;
  created_at: string;
}

/**
 * The event of a change, in that change's batch, right after its audit event: written only if
 * the audit event was (the change happened), and only while some enabled endpoint subscribes.
 * Its organization is the audit event's. The payload is {"type","timestamp","organization_id","data"}.
 */
export function insertEventAfterAudit(db: D1Database, id: string, type: string, at: string, data: unknown): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO webhook_events (id, type, organization_id, payload, created_at)
       SELECT ?1, ?2, e.organization_id, json_object('type', ?2, 'timestamp', ?3, 'organization_id', e.organization_id, 'data', json(?4)), ?3
       FROM audit_events e
       WHERE changes() > 0 AND e.rowid = last_insert_rowid()
         AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.status = 'enabled'
           AND (w.organization_id IS NULL OR w.organization_id IS e.organization_id)
           AND (w.events = '["*"]' OR EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?2)))`,
    )
    .bind(id, type, at, JSON.stringify(data));
}

/** The signed body of an event: {"type", "timestamp", "organization_id", "data"} (contract "Webhooks"). */
const payloadOf = (event: { type: string; at: string; organization_id: string | null; data: unknown }) =>
  JSON.stringify({ type: event.type, timestamp: event.at, organization_id: event.organization_id, data: event.data });

/** An event written only while `guard` (a SQL condition with its own values) holds and an enabled endpoint subscribes. */
export function insertEventIf(
  db: D1Database,
  event: { id: string; type: string; organization_id: string | null; at: string; data: unknown; dedupe_key?: string },
  guard: { sql: string; values: unknown[] },
): D1PreparedStatement {
  const payload = payloadOf(event);
  return db
    .prepare(
      `INSERT OR IGNORE INTO webhook_events (id, type, organization_id, payload, dedupe_key, created_at)
       SELECT ?, ?, ?, ?, ?, ? WHERE ${guard.sql}
         AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.status = 'enabled'
           AND (w.organization_id IS NULL OR w.organization_id IS ?)
           AND (w.events = '["*"]' OR EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?)))`,
    )
    .bind(event.id, event.type, event.organization_id, payload, event.dedupe_key ?? null, event.at, ...guard.values, event.organization_id, event.type);
}

/** An event with no change behind it in the batch (a test event, an expiry notice), once per `dedupeKey`. */
export function insertEvent(
  db: D1Database,
  event: { id: string; type: string; organization_id: string | null; at: string; data: unknown; endpoint_id?: string | null; dedupe_key?: string | null },
): D1PreparedStatement {
  const payload = payloadOf(event);
  return db
    .prepare("INSERT OR IGNORE INTO webhook_events (id, type, organization_id, payload, endpoint_id, dedupe_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
    .bind(event.id, event.type, event.organization_id, payload, event.endpoint_id ?? null, event.dedupe_key ?? null, event.at);
}

/**
 * Claims up to `limit` unsent events for `leaseSeconds` (a sender that crashes lets its claim
 * lapse, and the next sender takes the events again): the oldest first.
 */
export function claimUnsentEvents(db: D1Database, now: string, until: string, limit: number): Promise<EventRow[]> {
  return all<EventRow>(
    db
      .prepare(
        `UPDATE webhook_events SET claimed_until = ?2
         WHERE id IN (SELECT id FROM webhook_events WHERE sent_at IS NULL AND (claimed_until IS NULL OR claimed_until < ?1) ORDER BY created_at LIMIT ?3)
         RETURNING id, type, organization_id, payload, endpoint_id, created_at`,
      )
      .bind(now, until, limit),
  );
}

export function markEventsSent(db: D1Database, ids: string[], at: string): D1PreparedStatement {
  return db.prepare(`UPDATE webhook_events SET sent_at = ? WHERE id IN (${ids.map(() => "?").join(", ")})`).bind(at, ...ids);
}

export function getEvent(db: D1Database, id: string): Promise<EventRow | null> {
  return first<EventRow>(db.prepare("SELECT id, type, organization_id, payload, endpoint_id, created_at FROM webhook_events WHERE id = ?").bind(id));
}

// ---- deliveries ------------------------------------------------------------------------------

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  attempt: number;
  status: "succeeded" | "failed";
  status_code: number | null;
  error: string | null;
  at: string;
  next_attempt_at: string | null;
}

export function insertDelivery(db: D1Database, row: DeliveryRow): D1PreparedStatement {
  return db
    .prepare("INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, attempt, status, status_code, error, at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
    .bind(row.id, row.endpoint_id, row.event_id, row.event_type, row.attempt, row.status, row.status_code, row.error, row.at, row.next_attempt_at);
}

/** An endpoint's attempts, newest first; with `status`, only those. */
export function listDeliveries(db: D1Database, endpointId: string, status: DeliveryRow["status"] | null, limit: number, after: Position | null): Promise<DeliveryRow[]> {
  const { conditions, values } = equalities({ endpoint_id: endpointId, status });
  if (after) {
    conditions.push("(at, id) < (?, ?)");
    values.push(after.time, after.id);
  }
  return all<DeliveryRow>(
    db.prepare(`SELECT id, endpoint_id, event_id, event_type, attempt, status, status_code, error, at, next_attempt_at FROM webhook_deliveries WHERE ${conditions.join(" AND ")} ORDER BY at DESC, id DESC LIMIT ?`).bind(...values, limit),
  );
}

/** After an attempt: a failure starts (or continues) the failing run, a success ends it. */
export function recordOutcome(db: D1Database, endpointId: string, succeeded: boolean, at: string): D1PreparedStatement {
  return succeeded
    ? db.prepare("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL").bind(endpointId)
    : db.prepare("UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, ?) WHERE id = ?").bind(at, endpointId);
}

/** Disables an endpoint whose failing run began at or before `since` (five days of failures). */
export function disableFailingEndpoint(db: D1Database, endpointId: string, since: string, at: string): D1PreparedStatement {
  return db
    .prepare("UPDATE webhook_endpoints SET status = 'disabled', updated_at = ? WHERE id = ? AND status = 'enabled' AND failing_since IS NOT NULL AND failing_since <= ?")
    .bind(at, endpointId, since);
}

/** Retention: events and deliveries older than `before`, at most `limit` of each. */
export function pruneWebhookHistory(db: D1Database, before: string, limit: number): D1PreparedStatement[] {
  return [
    db.prepare("DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries WHERE at < ? LIMIT ?)").bind(before, limit),
    db.prepare("DELETE FROM webhook_events WHERE id IN (SELECT id FROM webhook_events WHERE created_at < ? AND sent_at IS NOT NULL LIMIT ?)").bind(before, limit),
  ];
}
