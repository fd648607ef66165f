-- Credential lifecycle: expiry, IP allowlists and leaked secrets (contract: expires_at,
-- allowed_ips, leaked_at/leak_url). All NULL for credentials made before: they never expire,
-- work from anywhere and were never reported.
ALTER TABLE credentials ADD COLUMN expires_at TEXT;      -- RFC 3339; NULL: never
ALTER TABLE credentials ADD COLUMN allowed_ips TEXT;     -- JSON array of CIDRs; NULL: anywhere
ALTER TABLE credentials ADD COLUMN leaked_at TEXT;       -- set when a scanner reported the secret (flag)
ALTER TABLE credentials ADD COLUMN leak_url TEXT;        -- where it was found
CREATE INDEX credentials_by_expiry ON credentials (expires_at) WHERE expires_at IS NOT NULL;

-- An audit event may say more than its action: the leak URL of a scanner's report.
ALTER TABLE audit_events ADD COLUMN detail TEXT;
