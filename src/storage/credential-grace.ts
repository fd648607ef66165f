/**
 * Ends a rolled secret's grace period now: the previous digest is forgotten. Changes a row only
 * while a previous secret is still kept, so `changes` says whether there was a grace to end.
 */
export function endPreviousSecret(db: D1Database, id: string, updatedAt: string): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE credentials SET previous_secret_hash = NULL, previous_secret_expires_at = NULL, previous_secret_last_used_at = NULL, updated_at = ? WHERE id = ? AND previous_secret_hash IS NOT NULL",
    )
    .bind(updatedAt, id);
}
