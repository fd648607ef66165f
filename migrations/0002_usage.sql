-- Usage counted off the hot path (src/services/usage.ts): the usage Queue's consumer adds each
-- isolate's counts into one row per credential and UTC hour. No foreign key: counts outlive a
-- deleted credential until retention prunes them.
CREATE TABLE usage_hourly (
  credential_id TEXT NOT NULL,
  hour TEXT NOT NULL,                 -- start of the UTC hour, RFC 3339
  tokens_issued INTEGER NOT NULL DEFAULT 0,
  verifications INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (credential_id, hour)
) WITHOUT ROWID;

-- Failures of a known credential by reason (wrong_secret, revoked, inactive, deleted, expired).
CREATE TABLE usage_failures (
  credential_id TEXT NOT NULL,
  hour TEXT NOT NULL,
  reason TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (credential_id, hour, reason)
) WITHOUT ROWID;
