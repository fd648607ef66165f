import { StoreUnavailableError } from "./http/errors";
import { type Deferrer, type InvalidCode, verifyBearer } from "./services/verification";

/**
 * What the `Verifier` RPC entrypoint answers: the caller's identity, or why not, as data.
 * Resource-server Workers bind it as a service (see examples/resource-server) and get the same
 * checks as Test Auth, revocation markers included, with no HTTP round trip.
 */
export type VerifyResult =
  | {
      valid: true;
      account_id: string;
      credential_id: string;
      credential_type: "oauth_client" | "api_key";
      scopes: string[];
    }
  | { valid: false; code: InvalidCode | "temporarily_unavailable" };

export async function verifyForRpc(env: Env, ctx: Deferrer, token: unknown): Promise<VerifyResult> {
  if (typeof token !== "string") return { valid: false, code: "malformed" };
  try {
    const result = await verifyBearer(env, { ctx, ipBlocked: false }, token);
    if (!result.valid) return { valid: false, code: result.code };
    const { account_id, credential_id, credential_type, scopes } = result.identity;
    return { valid: true, account_id, credential_id, credential_type, scopes };
  } catch (error) {
    // Fail closed, as data: the caller must not treat an unverifiable token as valid.
    if (error instanceof StoreUnavailableError) return { valid: false, code: "temporarily_unavailable" };
    throw error;
  }
}
