"""A client credentials grant with Python authlib's PrivateKeyJWT client authentication (RFC 7523).

Run by test/interop/authlib.test.ts against `npm run dev`, with Debian's python3-authlib
and python3-requests (.ci/run installs them). Arguments: issuer, client_id, a PEM private key
file, its kid, the JWS alg, and the assertion's lifetime in seconds. Prints each token response
(two requests) as JSON on one line.
"""
import json
import sys

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign

issuer, client_id, key_file, kid, alg, lifetime = sys.argv[1:7]
token_endpoint = f"{issuer}/oauth/token"
with open(key_file, encoding="utf-8") as pem:
    private_key = pem.read()


class KeymintPrivateKeyJWT(PrivateKeyJWT):
    """authlib's PrivateKeyJWT, with the two settings Keymint needs that authlib 1.2 has no option
    for: a short assertion lifetime (authlib signs for an hour; Keymint accepts at most 5 minutes)
    and the key's `kid` in the header (Keymint also finds the key without it)."""

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            alg=self.alg,
            header={"kid": kid} if kid else None,
            expires_in=int(lifetime),
        )


# authlib signs a fresh assertion (its own jti, aud = the token endpoint) for every request.
session = OAuth2Session(client_id, private_key, token_endpoint_auth_method=KeymintPrivateKeyJWT(token_endpoint, alg=alg), scope="events:read")
for _ in range(2):
    token = session.fetch_token(token_endpoint, grant_type="client_credentials")
    print(json.dumps(dict(token)), flush=True)
