-- Idempotency-Key for credential creation and rolling (the console's one-time form nonce uses it
-- too): a retried request with the same key gets the first result's metadata, never a second
-- secret. Kept for 24 hours, then deleted by the cron.
CREATE TABLE idempotency_keys (
  actor         TEXT NOT NULL,
  key           TEXT NOT NULL,
  operation     TEXT NOT NULL,
  request_hash  TEXT NOT NULL,
  credential_id TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  PRIMARY KEY (actor, key)
) STRICT;
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
