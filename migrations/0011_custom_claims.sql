-- Custom claims (contract "Custom claims"): metadata on accounts and credentials (organizations
-- have it since 0009), and each API's claim mapping. All JSON objects, or NULL (none).
-- docs/storage.md describes the columns.
ALTER TABLE accounts ADD COLUMN metadata TEXT;
ALTER TABLE credentials ADD COLUMN metadata TEXT;
-- {"<claim>": "<source>"}: the claims every token for the API carries (src/lib/claims.ts).
ALTER TABLE apis ADD COLUMN token_claims TEXT;
