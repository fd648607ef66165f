import { all, first } from "./d1";
import type { Position } from "./pagination";
import type { AccountStatus } from "./accounts";

export type CredentialType = "oauth_client" | "api_key";

export interface CredentialRow {
  id: string;
  account_id: string;
  name: string;
  type: CredentialType;
  client_id: string | null;
  secret_hash: string;
  hint: string;
  previous_secret_hash: string | null;
  previous_secret_expires_at: string | null;
  /** JSON array of scope strings. */
  scopes: string;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
}

/** A credential as the hot paths need it: with its account's status, in one read. */
export interface CredentialWithAccount extends CredentialRow {
  account_status: AccountStatus;
}

const COLUMNS =
  "id, account_id, name, type, client_id, secret_hash, hint, previous_secret_hash, previous_secret_expires_at, scopes, created_at, updated_at, last_used_at";
const JOINED = `SELECT ${COLUMNS
  .split(", ")
  .map((column) => `c.${column}`)
  .join(", ")}, a.status AS account_status FROM credentials c JOIN accounts a ON a.id = c.account_id`;

/** Inserts a credential; with `onlyIfPreviousChanged`, only when the batch's previous statement changed a row. */
export function insertCredential(db: D1Database, row: CredentialRow, onlyIfPreviousChanged = false): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO credentials (${COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?${onlyIfPreviousChanged ? " WHERE changes() > 0" : ""}`,
    )
    .bind(
      row.id,
      row.account_id,
      row.name,
      row.type,
      row.client_id,
      row.secret_hash,
      row.hint,
      row.previous_secret_hash,
      row.previous_secret_expires_at,
      row.scopes,
      row.created_at,
      row.updated_at,
      row.last_used_at,
    );
}

export function getCredential(db: D1Database | D1DatabaseSession, id: string): Promise<CredentialRow | null> {
  return first<CredentialRow>(db.prepare(`SELECT ${COLUMNS} FROM credentials WHERE id = ?`).bind(id));
}

export function findByClientId(db: D1Database | D1DatabaseSession, clientId: string): Promise<CredentialWithAccount | null> {
  return first<CredentialWithAccount>(db.prepare(`${JOINED} WHERE c.client_id = ?`).bind(clientId));
}

/** The credential whose current or (still unexpired) previous secret has this digest. */
export function findBySecretHash(db: D1Database | D1DatabaseSession, hash: string): Promise<CredentialWithAccount | null> {
  return first<CredentialWithAccount>(
    db.prepare(`${JOINED} WHERE c.secret_hash = ?1 OR c.previous_secret_hash = ?1 LIMIT 1`).bind(hash),
  );
}

/** The credential with its account's status, from the primary: what the edge entry is made from. */
export function getCredentialWithAccount(db: D1Database, id: string): Promise<CredentialWithAccount | null> {
  return first<CredentialWithAccount>(db.prepare(`${JOINED} WHERE c.id = ?`).bind(id));
}

/** These credentials (at most 100 ids), with their accounts' status; missing ids are left out. */
export function getCredentialsWithAccount(db: D1Database, ids: string[]): Promise<CredentialWithAccount[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return all<CredentialWithAccount>(db.prepare(`${JOINED} WHERE c.id IN (${ids.map(() => "?").join(", ")})`).bind(...ids));
}

/** Every credential of an account (at most `limit`), with the account's status. */
export function listCredentialsOfAccount(db: D1Database, accountId: string, limit: number): Promise<CredentialWithAccount[]> {
  return all<CredentialWithAccount>(db.prepare(`${JOINED} WHERE c.account_id = ? ORDER BY c.id LIMIT ?`).bind(accountId, limit));
}

/** How many credentials an account has (the per-account cap). */
export async function countCredentialsOfAccount(db: D1Database, accountId: string): Promise<number> {
  const row = await first<{ n: number }>(db.prepare("SELECT count(*) AS n FROM credentials WHERE account_id = ?").bind(accountId));
  return row?.n ?? 0;
}

/** Credentials in id order after `afterId`: pages of the edge backfill. */
export function listCredentialsAfter(db: D1Database, afterId: string | null, limit: number): Promise<CredentialWithAccount[]> {
  return all<CredentialWithAccount>(db.prepare(`${JOINED} WHERE c.id > ? ORDER BY c.id LIMIT ?`).bind(afterId ?? "", limit));
}

export interface CredentialFilter {
  account_id: string | null;
  type: CredentialType | null;
}

export function listCredentials(
  db: D1Database,
  filter: CredentialFilter,
  limit: number,
  after: Position | null,
): Promise<CredentialRow[]> {
  const conditions: string[] = [];
  const values: unknown[] = [];
  if (filter.account_id !== null) {
    conditions.push("account_id = ?");
    values.push(filter.account_id);
  }
  if (filter.type !== null) {
    conditions.push("type = ?");
    values.push(filter.type);
  }
  if (after) {
    conditions.push("(created_at, id) < (?, ?)");
    values.push(after.time, after.id);
  }
  const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
  return all<CredentialRow>(
    db
      .prepare(`SELECT ${COLUMNS} FROM credentials ${where} ORDER BY created_at DESC, id DESC LIMIT ?`)
      .bind(...values, limit),
  );
}

/**
 * Edits name and scopes, only if the row is still at `version` (its updated_at when it was
 * read): an edit that lost a race changes nothing, and the caller reads again.
 */
export function updateCredential(
  db: D1Database,
  id: string,
  changes: { name: string | null; scopes: string | null },
  version: string,
  updatedAt: string,
): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE credentials SET name = coalesce(?, name), scopes = coalesce(?, scopes), updated_at = ? WHERE id = ? AND updated_at = ?",
    )
    .bind(changes.name, changes.scopes, updatedAt, id, version);
}

/**
 * Replaces the secret; the old digest stays valid until `previousExpiresAt` (or not at all when
 * null). Only if the row is still at `version`, like updateCredential.
 */
export function rollSecret(
  db: D1Database,
  id: string,
  secret: { hash: string; hint: string },
  previousExpiresAt: string | null,
  version: string,
  updatedAt: string,
  onlyIfPreviousChanged = false,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE credentials SET
         previous_secret_hash = CASE WHEN ?1 IS NULL THEN NULL ELSE secret_hash END,
         previous_secret_expires_at = ?1,
         secret_hash = ?2, hint = ?3, updated_at = ?4
       WHERE id = ?5 AND updated_at = ?6${onlyIfPreviousChanged ? " AND changes() > 0" : ""}`,
    )
    .bind(previousExpiresAt, secret.hash, secret.hint, updatedAt, id, version);
}

/** Clears previous secrets whose grace period has ended (run from the cron). */
export function clearExpiredPreviousSecrets(db: D1Database, now: string): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE credentials SET previous_secret_hash = NULL, previous_secret_expires_at = NULL WHERE previous_secret_expires_at <= ?",
    )
    .bind(now);
}

export function deleteCredential(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM credentials WHERE id = ?").bind(id);
}

export function deleteCredentialsOfAccount(db: D1Database, accountId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM credentials WHERE account_id = ?").bind(accountId);
}

/**
 * Records use, from the usage pipeline: `last_used_at` only moves forward, and only when the
 * stored one is older than `notSince` (a row written per credential every few minutes, not per
 * flush: the statement that matches nothing writes nothing).
 */
export function recordLastUsed(db: D1Database, id: string, at: string, notSince: string): D1PreparedStatement {
  return db
    .prepare("UPDATE credentials SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)")
    .bind(at, id, notSince);
}
