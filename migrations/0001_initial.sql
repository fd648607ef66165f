-- Keymint schema. Forward only: change it with a new numbered file, never by editing this one.
-- docs/storage.md describes every table, who writes it and who reads it.
-- Times are RFC 3339 strings in UTC with milliseconds, so they sort as text.

CREATE TABLE accounts (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  type           TEXT NOT NULL CHECK (type IN ('service', 'user')),
  status         TEXT NOT NULL CHECK (status IN ('active', 'deactivated')),
  created_at     TEXT NOT NULL,
  deactivated_at TEXT
) STRICT;
CREATE INDEX accounts_newest_first ON accounts (created_at DESC, id DESC);

-- A credential stores only SHA-256 digests of its secret (hex). While a rolled secret's grace
-- period runs, the previous digest is kept beside the current one and then cleared.
CREATE TABLE credentials (
  id                         TEXT PRIMARY KEY,
  account_id                 TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name                       TEXT NOT NULL,
  type                       TEXT NOT NULL CHECK (type IN ('oauth_client', 'api_key')),
  client_id                  TEXT UNIQUE,
  secret_hash                TEXT NOT NULL UNIQUE,
  hint                       TEXT NOT NULL,
  previous_secret_hash       TEXT UNIQUE,
  previous_secret_expires_at TEXT,
  scopes                     TEXT NOT NULL,
  created_at                 TEXT NOT NULL,
  updated_at                 TEXT NOT NULL,
  last_used_at               TEXT,
  CHECK ((type = 'oauth_client') = (client_id IS NOT NULL))
) STRICT;
-- secret_hash, previous_secret_hash and client_id are UNIQUE, so each has its own index:
-- the API-key path looks up by digest, the token path by client_id.
CREATE INDEX credentials_newest_first ON credentials (created_at DESC, id DESC);
CREATE INDEX credentials_by_account ON credentials (account_id, created_at DESC, id DESC);

CREATE TABLE audit_events (
  id          TEXT PRIMARY KEY,
  at          TEXT NOT NULL,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  target_type TEXT NOT NULL,
  target_id   TEXT NOT NULL,
  ip          TEXT
) STRICT;
CREATE INDEX audit_events_newest_first ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_by_target ON audit_events (target_id, at DESC, id DESC);

-- ES256 signing keys. The private key is AES-GCM encrypted under KEY_ENCRYPTION_KEY.
-- generation is UNIQUE so racing isolates (or crons) that create "the next key" agree on one.
-- A key is published from created_at, signs from activates_at until the next generation
-- activates, and leaves the JWKS a grace period after that (src/services/signing-keys.ts).
CREATE TABLE signing_keys (
  kid                   TEXT PRIMARY KEY,
  generation            INTEGER NOT NULL UNIQUE,
  public_jwk            TEXT NOT NULL,
  encrypted_private_key TEXT NOT NULL,
  created_at            INTEGER NOT NULL,
  activates_at          INTEGER NOT NULL
) STRICT;
