import { settings } from "../config";
import type { Claims } from "../lib/claims";
import type { Credential } from "./credentials";
import { type TokenClaims, verifyAccessToken, verifyApiKey, verifyClient } from "./verification";
import { issueAccessToken } from "./tokens";

/**
 * The handoff kit: what an integration needs besides its secret, as absolute URLs built from
 * ISSUER, and "Test now", which tries the secret the admin was just shown.
 */
export interface Handoff {
  issuer: string;
  token_endpoint: string;
  jwks_uri: string;
  metadata_url: string;
  test_auth_url: string;
  audience: string;
}

export function handoff(env: Env): Handoff {
  const { issuer, audience } = settings(env);
  return {
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    metadata_url: `${issuer}/.well-known/oauth-authorization-server`,
    test_auth_url: `${issuer}/v1/test-auth`,
    audience,
  };
}

export type TestResult =
  | { ok: true; kind: "access_token"; claims: TokenClaims & Record<string, unknown> }
  | { ok: true; kind: "api_key"; account_id: string; credential_id: string; scopes: string[]; claims: Claims }
  | { ok: false; reason: string };

const REASONS: Record<string, string> = {
  malformed: "The value is not one Keymint issued.",
  unknown: "No credential has this value.",
  wrong_secret: "The secret is not this client's.",
  inactive: "The credential's account is deactivated.",
  revoked: "The credential is revoked.",
  expired: "The credential has expired.",
};

/**
 * Test now: for an OAuth client, a token is minted with the given secret exactly as the token
 * endpoint would (client authentication, then signing), then verified as an API would; its
 * claims are the answer. For an API key, the key is checked as Test Auth would. The secret is
 * used in memory for this request only: it is not stored, logged or sent back.
 */
export async function testSecret(
  env: Env,
  ctx: { waitUntil(promise: Promise<unknown>): void },
  credential: Credential,
  secret: string,
): Promise<TestResult> {
  if (credential.type === "oauth_client") {
    const client = await verifyClient(env, { ctx, ip: null, ipBlocked: false, claims: true }, credential.client_id ?? "", secret);
    if (!client.valid) return { ok: false, reason: REASONS[client.code] ?? "The secret did not work." };
    const issued = await issueAccessToken(env, client.identity, client.identity.scopes);
    const verified = await verifyAccessToken(env, issued.access_token);
    if (!verified.valid) return { ok: false, reason: REASONS[verified.code] ?? "The token did not verify." };
    return { ok: true, kind: "access_token", claims: { ...verified.identity.claims, ...verified.identity.token } };
  }
  const key = await verifyApiKey(env, { ctx, ip: null, ipBlocked: false }, secret);
  if (!key.valid || key.identity.credential_id !== credential.id) {
    return { ok: false, reason: key.valid ? "That is another credential's key." : (REASONS[key.code] ?? "The key did not work.") };
  }
  return { ok: true, kind: "api_key", account_id: key.identity.account_id, credential_id: key.identity.credential_id, scopes: key.identity.scopes, claims: key.identity.claims };
}
