-- APIs and audiences (RFC 8707): each API is a resource server whose identifier becomes the
-- `aud` of the tokens minted for it. The default API (id api_default) always exists; its
-- identifier is ACCESS_TOKEN_AUDIENCE, read at run time, so it is stored as NULL here, and its
-- scopes are NULL (any scope: a credential's own `scopes` are its grant on it).
CREATE TABLE apis (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  identifier  TEXT UNIQUE,            -- compared byte for byte; NULL only for api_default
  scopes      TEXT,                   -- JSON array; NULL only for api_default
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  CHECK ((id = 'api_default') = (identifier IS NULL)),
  CHECK ((id = 'api_default') = (scopes IS NULL))
) STRICT;
CREATE INDEX apis_newest_first ON apis (created_at DESC, id DESC);
INSERT INTO apis (id, name, identifier, scopes, created_at, updated_at)
  VALUES ('api_default', 'Default API', NULL, NULL, '2026-11-29T00:00:00.000Z', '2026-11-29T00:00:00.000Z');

-- A credential's access to an API other than the default one, with the scopes it may ask for.
CREATE TABLE grants (
  credential_id TEXT NOT NULL REFERENCES credentials (id) ON DELETE CASCADE,
  api_id        TEXT NOT NULL REFERENCES apis (id) ON DELETE CASCADE,
  scopes        TEXT NOT NULL,        -- JSON array, a subset of the API's scopes
  PRIMARY KEY (credential_id, api_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX grants_by_api ON grants (api_id);
