-- Which organization each credential belonged to, kept after the credential is deleted, so an
-- organization's usage counts its deleted credentials too (its usage rows outlive them). Written
-- in the batch that creates a credential; an account's organization never changes. Credentials
-- deleted before this migration have no row: they were all org_default's, and count there.
CREATE TABLE credential_organizations (
  credential_id   TEXT PRIMARY KEY,
  organization_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX credential_organizations_by_organization ON credential_organizations (organization_id);
INSERT INTO credential_organizations (credential_id, organization_id)
SELECT c.id, a.organization_id FROM credentials c JOIN accounts a ON a.id = c.account_id;
