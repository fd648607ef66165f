import { all, first } from "./d1";
import type { Position } from "./pagination";

export type AccountType = "service" | "user";
export type AccountStatus = "active" | "deactivated";

export interface AccountRow {
  id: string;
  name: string;
  type: AccountType;
  status: AccountStatus;
  created_at: string;
  deactivated_at: string | null;
}

const COLUMNS = "id, name, type, status, created_at, deactivated_at";

export function insertAccount(db: D1Database, row: AccountRow): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO accounts (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`)
    .bind(row.id, row.name, row.type, row.status, row.created_at, row.deactivated_at);
}

export function getAccount(db: D1Database, id: string): Promise<AccountRow | null> {
  return first<AccountRow>(db.prepare(`SELECT ${COLUMNS} FROM accounts WHERE id = ?`).bind(id));
}

export function listAccounts(db: D1Database, limit: number, after: Position | null): Promise<AccountRow[]> {
  const statement = after
    ? db
        .prepare(`SELECT ${COLUMNS} FROM accounts WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`)
        .bind(after.time, after.id, limit)
    : db.prepare(`SELECT ${COLUMNS} FROM accounts ORDER BY created_at DESC, id DESC LIMIT ?`).bind(limit);
  return all<AccountRow>(statement);
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

export function deleteAccount(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM accounts WHERE id = ?").bind(id);
}
