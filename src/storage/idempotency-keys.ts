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
 * In the batch of a roll the claim guards: removes this very claim (same actor, key and moment)
 * when the roll did not land, i.e. the credential is not at the version the roll writes (its
 * `created_at`). Said in SQL, not by `changes()`, so statements may come between.
 */
export function releaseIdempotencyKey(db: D1Database, row: IdempotencyKeyRow): D1PreparedStatement {
  return db
    .prepare(
      "DELETE FROM idempotency_keys WHERE actor = ?1 AND key = ?2 AND created_at = ?3 AND NOT EXISTS (SELECT 1 FROM credentials WHERE id = ?4 AND updated_at = ?3)",
    )
    .bind(row.actor, row.key, row.created_at, row.credential_id);
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
