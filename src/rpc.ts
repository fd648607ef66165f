import { StoreUnavailableError } from "./storage/guarded";
import { isAbsoluteUri } from "./http/identifiers";
import type { Deferrer } from "./services/deferrer";
import { type Identity, type InvalidCode, verifyBearer } from "./services/verification";

/**
 * What the `Verifier` RPC entrypoint answers: the caller's identity, or why not, as data.
 * Resource-server Workers bind it as a service (see examples/resource-server) and get the same
 * checks as Test Auth, revocation markers included, with no HTTP round trip.
 */
export type VerifyResult =
  | ({ valid: true } & Identity)
  | { valid: false; code: InvalidCode | "temporarily_unavailable" };

/**
 * `verify(token, {audience, ip})`: with an audience, only a token for that API, or an API key
 * with a grant on it; `ip` is the caller's address, which an API key with an allowlist needs
 * (without it, such a key fails).
 */
export interface VerifyOptions {
  audience?: string;
  ip?: string;
  /** For a DPoP-bound token: the `DPoP` proof header, and the method and URL of the request it came with. */
  dpop?: { proof: string; method: string; url: string };
}

export async function verifyForRpc(env: Env, ctx: Deferrer, token: unknown, options: unknown = {}): Promise<VerifyResult> {
  if (typeof token !== "string") return { valid: false, code: "malformed" };
  const { audience, ip, dpop } = typeof options === "object" && options !== null ? (options as VerifyOptions) : {};
  const presented =
    dpop && typeof dpop.proof === "string" && typeof dpop.method === "string" && typeof dpop.url === "string"
      ? { scheme: "DPoP" as const, proof: dpop.proof, method: dpop.method.toUpperCase(), url: dpop.url.split(/[?#]/)[0]! }
      : undefined;
  if (audience !== undefined && (typeof audience !== "string" || !isAbsoluteUri(audience))) return { valid: false, code: "wrong_audience" };
  const caller = typeof ip === "string" && ip.length <= 64 ? ip : null;
  try {
    const result = await verifyBearer(env, { ctx, ip: caller, ipBlocked: false, ...(audience === undefined ? {} : { resource: audience }) }, token, presented);
    if (!result.valid) return { valid: false, code: result.code };
    const { account_id, organization_id, credential_id, credential_type, scopes, aud, grants, claims } = result.identity;
    return { valid: true, account_id, organization_id, credential_id, credential_type, scopes, aud, grants, claims };
  } catch (error) {
    // Fail closed, as data: the caller must not treat an unverifiable token as valid.
    if (error instanceof StoreUnavailableError) return { valid: false, code: "temporarily_unavailable" };
    throw error;
  }
}
