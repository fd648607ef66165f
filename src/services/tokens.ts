import { SignJWT } from "jose";
import { ACCESS_TOKEN_LIFETIME_SECONDS, settings } from "../config";
import { activeSigner } from "./signing-keys";
import type { Identity } from "./verification";

/**
 * Access tokens (RFC 9068): ES256 JWTs that live exactly ACCESS_TOKEN_LIFETIME_SECONDS.
 * `cid` carries the credential id so verification needs no lookup.
 */
export interface IssuedToken {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
}

export async function issueAccessToken(env: Env, identity: Identity & { client_id: string }, scopes: string[]): Promise<IssuedToken> {
  const { issuer, audience } = settings(env);
  const signer = await activeSigner(env);
  const iat = Math.floor(Date.now() / 1000);
  const scope = scopes.join(" ");
  const accessToken = await new SignJWT({ client_id: identity.client_id, cid: identity.credential_id, scope })
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: signer.kid })
    .setIssuer(issuer)
    .setSubject(identity.account_id)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ACCESS_TOKEN_LIFETIME_SECONDS)
    .setJti(crypto.randomUUID())
    .sign(signer.key);
  return { access_token: accessToken, token_type: "Bearer", expires_in: ACCESS_TOKEN_LIFETIME_SECONDS, scope };
}
