import { all, equalities, first } from "./d1";
import type { Position } from "./pagination";

export type AccountType = "service" | "user";
export type AccountStatus = "active" | "deactivated";

export interface AccountRow {
  id: string;
  name: string;
  type: AccountType;
  status: AccountStatus;
  /** Its organization (migration 0009); never changes. */
  organization_id: string;
  created_at: string;
  deactivated_at: string | null;
  /** JSON object, or NULL (none): migration 0011. */
  metadata: string | null;
}

const COLUMNS = "id, name, type, status, organization_id, created_at, deactivated_at, metadata";

/** Inserts the account, only while its organization exists and is active (else no row changes). */
export function insertAccount(db: D1Database, row: AccountRow): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO accounts (${COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM organizations WHERE id = ? AND status = 'active')`)
    .bind(row.id, row.name, row.type, row.status, row.organization_id, row.created_at, row.deactivated_at, row.metadata, row.organization_id);
}

export function getAccount(db: D1Database, id: string): Promise<AccountRow | null> {
  return first<AccountRow>(db.prepare(`SELECT ${COLUMNS} FROM accounts WHERE id = ?`).bind(id));
}

/** Newest first from `after`; with `organizationId`, that organization's only. */
export function listAccounts(db: D1Database, organizationId: string | null, limit: number, after: Position | null): Promise<AccountRow[]> {
  const { conditions, values } = equalities({ organization_id: organizationId });
  if (after) {
    conditions.push("(created_at, id) < (?, ?)");
    values.push(after.time, after.id);
  }
  const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
  return all<AccountRow>(db.prepare(`SELECT ${COLUMNS} FROM accounts ${where} ORDER BY created_at DESC, id DESC LIMIT ?`).bind(...values, limit));
}

/** Changes the status only when it differs, so `changes` tells whether anything happened. */
export function setAccountStatus(
  db: D1Database,
  id: string,
  status: AccountStatus,
  deactivatedAt: string | null,
): D1PreparedStatement {
  return db
    .prepare("UPDATE accounts SET status = ?, deactivated_at = ? WHERE id = ? AND status <> ?")
    .bind(status, deactivatedAt, id, status);
}

/**
 * Renames the account and/or replaces its metadata (`undefined`: unchanged), only where that
 * changes something, so `changes` tells whether anything happened.
 */
export function updateAccount(db: D1Database, id: string, changes: { name?: string | undefined; metadata?: string | null | undefined }): D1PreparedStatement {
  const name = changes.name ?? null;
  const setMetadata = changes.metadata !== undefined ? 1 : 0;
  const metadata = changes.metadata ?? null;
  return db
    .prepare(
      `UPDATE accounts SET name = coalesce(?1, name), metadata = CASE WHEN ?2 THEN ?3 ELSE metadata END
       WHERE id = ?4 AND (name IS NOT coalesce(?1, name) OR (?2 AND metadata IS NOT ?3))`,
    )
    .bind(name, setMetadata, metadata, id);
}

export function deleteAccount(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM accounts WHERE id = ?").bind(id);
}
