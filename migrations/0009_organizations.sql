-- Organizations (tenants): every account belongs to exactly one. org_default holds every account
-- made without one, and every account made before organizations, so a deployment that never
-- names one works exactly as before. docs/storage.md describes the table.
CREATE TABLE organizations (
  id             TEXT PRIMARY KEY,
  name           TEXT NOT NULL,
  -- The customer's id in the provider's own system: printable ASCII, unique when set.
  external_id    TEXT UNIQUE,
  status         TEXT NOT NULL CHECK (status IN ('active', 'deactivated')),
  -- JSON object, or NULL (none).
  metadata       TEXT,
  -- JSON [{"api_id", "scopes"}]: the ceiling on every credential's grants; NULL: no ceiling.
  grants         TEXT,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL,
  deactivated_at TEXT
) STRICT;
CREATE INDEX organizations_newest_first ON organizations (created_at DESC, id DESC);

-- Older than any other row, so it lists last.
INSERT INTO organizations (id, name, external_id, status, metadata, grants, created_at, updated_at, deactivated_at)
VALUES ('org_default', 'Default organization', NULL, 'active', NULL, NULL, '1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z', NULL);

-- An account's organization never changes. (SQLite cannot add a column with both a REFERENCES
-- clause and a default; the services check that the organization exists.)
ALTER TABLE accounts ADD COLUMN organization_id TEXT NOT NULL DEFAULT 'org_default';
CREATE INDEX accounts_by_organization ON accounts (organization_id, created_at DESC, id DESC);

-- The organization an audit event is about: its own id, its account's or credential's
-- organization, or NULL for platform-wide changes (APIs). Every event so far was org_default's.
ALTER TABLE audit_events ADD COLUMN organization_id TEXT;
UPDATE audit_events SET organization_id = 'org_default' WHERE target_type IN ('account', 'credential');
CREATE INDEX audit_events_by_organization ON audit_events (organization_id, at DESC, id DESC);
