import { first } from "./d1";

export interface IdempotencyKeyRow {
  actor: string;
  key: string;
  operation: string;
  request_hash: string;
  credential_id: string;
  created_at: string;
}

/**
 * Claims a key. Put it first in the change's batch: the statements after it are guarded by
 * `changes() > 0`, so they run only when this claim is new.
 */
export function claimIdempotencyKey(db: D1Database, row: IdempotencyKeyRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO idempotency_keys (actor, key, operation, request_hash, credential_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (actor, key) DO NOTHING`,
    )
    .bind(row.actor, row.key, row.operation, row.request_hash, row.credential_id, row.created_at);
}

/**
 * Put last in a batch: removes this very claim (same actor, key and moment) when the statement
 * before it changed nothing, i.e. the change it guarded did not happen.
 */
export function releaseIdempotencyKey(db: D1Database, row: IdempotencyKeyRow): D1PreparedStatement {
  return db
    .prepare("DELETE FROM idempotency_keys WHERE actor = ? AND key = ? AND created_at = ? AND changes() = 0")
    .bind(row.actor, row.key, row.created_at);
}

export function getIdempotencyKey(db: D1Database, actor: string, key: string): Promise<IdempotencyKeyRow | null> {
  return first<IdempotencyKeyRow>(
    db
      .prepare("SELECT actor, key, operation, request_hash, credential_id, created_at FROM idempotency_keys WHERE actor = ? AND key = ?")
      .bind(actor, key),
  );
}

export function deleteIdempotencyKeysBefore(db: D1Database, before: string): D1PreparedStatement {
  return db.prepare("DELETE FROM idempotency_keys WHERE created_at < ?").bind(before);
}
