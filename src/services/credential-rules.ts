import { invalidField } from "../http/errors";
import { jwksProblem, unusableKeyProblem } from "../lib/client-jwks";
import { apisByIdentifier } from "./apis";
import { namesDefaultApi } from "./audiences";
import { nowIso } from "./ids";

/**
 * The rules a credential's create and edit are held to, apart from the change itself: grants
 * name real APIs and scopes they declare, a JWK Set WebCrypto can use, and the expiry policy
 * (MAX_CREDENTIAL_LIFETIME_DAYS). Each refusal is a 400 naming its field.
 */

/** A grant as an admin sends it: the API's identifier and the scopes on it. */
export interface GrantInput {
  api: string;
  scopes: string[];
}

/**
 * Grants checked against the APIs they name: each must exist and not be the default API (whose
 * grant is `scopes`), and may only hold scopes the API declares. Any failure → 400.
 */
export async function resolveGrants(env: Env, grants: GrantInput[]): Promise<{ api_id: string; scopes: string[] }[]> {
  if (grants.length === 0) return [];
  const known = await apisByIdentifier(env, grants.map((grant) => grant.api));
  return grants.map((grant, i) => {
    if (namesDefaultApi(env, grant.api)) {
      throw invalidField("grants", `grants[${i}] names the default API; its grant is the credential's scopes.`);
    }
    const api = known.get(grant.api);
    if (!api) throw invalidField("grants", `grants[${i}].api names no API.`);
    const undeclared = grant.scopes.filter((scope) => !api.scopes!.includes(scope));
    if (undeclared.length) throw invalidField("grants", `grants[${i}] has scopes the API does not declare.`);
    return { api_id: api.id, scopes: grant.scopes };
  });
}

/** Refuses a JWK Set of the wrong shape, or with a key WebCrypto cannot use (400 naming it). */
export async function assertUsableJwks(jwks: unknown): Promise<void> {
  const problem = jwksProblem(jwks) ?? (await unusableKeyProblem(jwks as { keys: Record<string, unknown>[] }));
  if (problem) throw invalidField("jwks", `jwks ${problem}.`);
}

/** MAX_CREDENTIAL_LIFETIME_DAYS, when set to a positive whole number. */
export function maxLifetimeDays(env: Env): number | null {
  const days = Number(env.MAX_CREDENTIAL_LIFETIME_DAYS);
  return env.MAX_CREDENTIAL_LIFETIME_DAYS && Number.isInteger(days) && days > 0 ? days : null;
}

/**
 * The expiry a create or edit leaves the credential with, checked against the rules: in the
 * future, and with MAX_CREDENTIAL_LIFETIME_DAYS set, present and at most that far out (counted
 * from now: existing credentials are held to the policy when next changed).
 */
export function checkedExpiry(env: Env, expiresAt: string | null, now = Date.now()): string | null {
  if (expiresAt !== null && Date.parse(expiresAt) <= now) throw invalidField("expires_at", "expires_at must be in the future.");
  const days = maxLifetimeDays(env);
  if (days !== null) {
    if (expiresAt === null) throw invalidField("expires_at", `expires_at is required: credentials live at most ${days} days here.`);
    if (Date.parse(expiresAt) > now + days * 86_400_000) throw invalidField("expires_at", `expires_at is at most ${days} days away here.`);
  }
  return expiresAt === null ? null : nowIso(Date.parse(expiresAt));
}

/** The audit action for a change of expiry, if it changed. */
export function expiryAction(before: string | null, after: string | null): string | null {
  if (before === after) return null;
  if (before === null) return "credential.expiry_set";
  return after === null ? "credential.expiry_cleared" : "credential.expiry_changed";
}
