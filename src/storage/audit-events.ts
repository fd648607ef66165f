import { all, commit, equalities } from "./d1";
import type { Position } from "./pagination";

export interface AuditEventRow {
  id: string;
  at: string;
  actor: string;
  action: string;
  target_type: string;
  target_id: string;
  /** The target's name when the event happened; null only for events older than migration 0003 whose target is gone. */
  target_name: string | null;
  channel: AuditChannel;
  ip: string | null;
  /** What the action alone does not say: the URL where a scanner found a leaked secret. */
  detail: string | null;
  /** The organization it is about (its account's, or its own); null for platform-wide changes (APIs). */
  organization_id: string | null;
}

/** Where a change came from: the management API, the console, or Keymint itself. */
export type AuditChannel = "api" | "console" | "system";

/** Who made a change, through which channel, and from where: recorded with every audit event. */
export interface AuditContext {
  actor: string;
  channel: AuditChannel;
  ip: string | null;
}

// Audit ids are made in SQL, so one statement can record an event per row it selects
// (deleting an account records one per credential, atomically with the delete).
const NEW_ID = "'evt_' || lower(hex(randomblob(16)))";
const COLUMNS = "id, at, actor, channel, action, target_type, target_id, target_name, ip, detail, organization_id";

/**
 * An event's organization, from its target (bound once as ?1 type, ?2 id), found while the target
 * exists: every event is written in the batch of its change, before a deletion in that batch.
 */
const ORGANIZATION_OF_TARGET = `CASE ?1
  WHEN 'organization' THEN ?2
  WHEN 'account' THEN (SELECT organization_id FROM accounts WHERE id = ?2)
  WHEN 'credential' THEN (SELECT a.organization_id FROM credentials c JOIN accounts a ON a.id = c.account_id WHERE c.id = ?2)
  WHEN 'webhook' THEN (SELECT organization_id FROM webhook_endpoints WHERE id = ?2)
END`;

export interface AuditEntry {
  action: string;
  target_type: "organization" | "account" | "credential" | "api" | "webhook";
  target_id: string;
  /** The target's name at the time of the event (after the change, for a rename). */
  target_name: string;
  /** More than the action says (a leak's URL); never a secret. */
  detail?: string | null;
}

/** When an audit event in a batch is written: a SQL condition with its own bind values. */
export interface AuditGuard {
  sql: string;
  values: unknown[];
}

/** Written only if the statement just before it changed a row. */
export const IF_CHANGED: AuditGuard = { sql: "changes() > 0", values: [] };

/** Written only while the row exists (at `version`, when given). */
export function ifRowExists(table: "accounts" | "apis" | "credentials" | "organizations" | "webhook_endpoints", id: string, version?: string): AuditGuard {
  return version === undefined
    ? { sql: `EXISTS (SELECT 1 FROM ${table} WHERE id = ?)`, values: [id] }
    : { sql: `EXISTS (SELECT 1 FROM ${table} WHERE id = ? AND updated_at = ?)`, values: [id, version] };
}

/**
 * Records an event, but only while `guard` (a SQL condition with its own bind values) holds,
 * so an event is written exactly when the change it describes happens in the same batch.
 */
export function insertAuditEvent(
  db: D1Database,
  who: AuditContext,
  at: string,
  entry: AuditEntry,
  guard?: AuditGuard,
): D1PreparedStatement {
  const where = guard ? ` WHERE ${guard.sql}` : "";
  return db
    .prepare(`INSERT INTO audit_events (${COLUMNS}) SELECT ${NEW_ID}, ?3, ?4, ?5, ?6, ?1, ?2, ?7, ?8, ?9, ${ORGANIZATION_OF_TARGET}${where}`)
    .bind(entry.target_type, entry.target_id, at, who.actor, who.channel, entry.action, entry.target_name, who.ip, entry.detail ?? null, ...(guard?.values ?? []));
}

/** One `credential.delete` event for each credential of an account, before they are deleted. */
export function insertCredentialDeletionsOfAccount(
  db: D1Database,
  who: AuditContext,
  at: string,
  accountId: string,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO audit_events (${COLUMNS})
       SELECT ${NEW_ID}, ?, ?, ?, 'credential.delete', 'credential', id, name, ?, NULL, (SELECT organization_id FROM accounts WHERE id = ?5) FROM credentials WHERE account_id = ?5`,
    )
    .bind(at, who.actor, who.channel, who.ip, accountId);
}

/** Which events a list holds: about one target, and/or of one organization (null: any). */
export interface AuditEventFilter {
  target_id: string | null;
  organization_id: string | null;
}

/** Newest first from `after` (or, with direction "newer", the rows just newer than it, still returned newest first). */
export async function listAuditEvents(
  db: D1Database,
  limit: number,
  after: Position | null,
  filter: AuditEventFilter,
  direction: "older" | "newer" = "older",
): Promise<AuditEventRow[]> {
  const { conditions, values } = equalities({ target_id: filter.target_id, organization_id: filter.organization_id });
  if (after) {
    conditions.push(direction === "older" ? "(at, id) < (?, ?)" : "(at, id) > (?, ?)");
    values.push(after.time, after.id);
  }
  const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
  const order = direction === "older" ? "DESC" : "ASC";
  const rows = await all<AuditEventRow>(
    db.prepare(`SELECT ${COLUMNS} FROM audit_events ${where} ORDER BY at ${order}, id ${order} LIMIT ?`).bind(...values, limit),
  );
  return direction === "older" ? rows : rows.reverse();
}

/** The oldest events before `before`, oldest first: retention's next page to export and prune. */
export function listAuditEventsBefore(db: D1Database, before: string, limit: number): Promise<AuditEventRow[]> {
  return all<AuditEventRow>(
    db.prepare(`SELECT ${COLUMNS} FROM audit_events WHERE at < ? ORDER BY at, id LIMIT ?`).bind(before, limit),
  );
}

/** Deletes exactly these events (any number: the ids travel as one JSON array); returns how many went. */
export async function deleteAuditEvents(db: D1Database, ids: string[]): Promise<number> {
  const [deleted] = await commit(db, [
    db.prepare("DELETE FROM audit_events WHERE id IN (SELECT value FROM json_each(?))").bind(JSON.stringify(ids)),
  ]);
  return deleted ?? 0;
}
