-- private_key_jwt (RFC 7523) and DPoP (RFC 9449). A private_key_jwt client authenticates with a
-- signed assertion: Keymint keeps only its public keys (jwks) and no secret it can use (its
-- secret_hash is the digest of random bytes nobody holds, so the column's rules still hold).
ALTER TABLE credentials ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT 'client_secret_basic'
  CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'private_key_jwt'));
ALTER TABLE credentials ADD COLUMN jwks TEXT;                                   -- JSON {"keys": [...]}, public keys only
ALTER TABLE credentials ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0;
