import type { Context } from "hono";
import { authorizationCredentials } from "../../http/auth-header";
import { ApiError, invalidField } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { base64Decode } from "../../lib/crypto";
import { clientIp, countFailure, ipKey, isBlocked } from "../../services/rate-limits";
import { CLIENT_ASSERTION_TYPE } from "../../services/client-assertions";
import { verifyClient, verifyClientAssertion } from "../../services/verification";

/**
 * Client authentication at the OAuth endpoints: client_secret_basic or client_secret_post
 * (RFC 6749 §2.3.1), or private_key_jwt (RFC 7523 §2.2), the §5.2 invalid_client answers, and
 * the failure rate limits.
 */
export type ClientAuthentication =
  | { method: "client_secret_basic" | "client_secret_post"; clientId: string; clientSecret: string }
  | { method: "private_key_jwt"; assertion: string; clientId: string | null };

/**
 * client_secret_post's form fields, for the OpenAPI document of every endpoint that
 * authenticates clients. (The forms are read by readForm, not by a zod validator, so their
 * schemas are written here as JSON Schema.)
 */
export const CLIENT_SECRET_POST_FIELDS = {
  client_id: { type: "string", description: "client_secret_post only (or naming the Basic client again)", example: "kmc_0Jx3Yb8QeR5tUw2ZaLm9Hk3FyP1c" },
  client_secret: { type: "string", description: "client_secret_post only; not together with an Authorization header" },
  client_assertion_type: { type: "string", const: CLIENT_ASSERTION_TYPE, description: "private_key_jwt (RFC 7523)" },
  client_assertion: { type: "string", description: "private_key_jwt: a JWT signed by a key of the client's jwks" },
} as const;

const BASIC_CHALLENGE = { "WWW-Authenticate": 'Basic realm="keymint", charset="UTF-8"' };

/** 401 invalid_client; with a Basic challenge when the client used (or should use) the header. */
export function invalidClient(challenge: boolean): ApiError {
  return new ApiError("invalid_client", "Client authentication failed.", challenge ? BASIC_CHALLENGE : {});
}

/** A decoder without state between calls (no `stream`), so one serves every request. */
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** RFC 6749 §2.3.1: id and secret are form-encoded before they are joined with ':' and base64ed. */
function formDecode(value: string): string {
  return decodeURIComponent(value.replaceAll("+", " "));
}

/**
 * How the client authenticates: a client assertion (private_key_jwt), client_secret_basic or
 * client_secret_post, one method at a time (RFC 6749 §2.3). Throws the §5.2 error when none or
 * several are there, or Basic is malformed.
 */
export function clientAuthentication(c: Context<AppEnv>, form: Map<string, string>): ClientAuthentication {
  const header = c.req.header("authorization");
  if (form.has("client_assertion") || form.has("client_assertion_type")) {
    // private_key_jwt (RFC 7523 §2.2): one method at a time.
    if (header !== undefined || form.has("client_secret")) {
      throw new ApiError("invalid_request", "Authenticate with one method: a client assertion, or a secret.");
    }
    if (form.get("client_assertion_type") !== CLIENT_ASSERTION_TYPE) {
      throw invalidField("client_assertion_type", `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}.`);
    }
    const assertion = form.get("client_assertion");
    if (!assertion) throw invalidClient(false);
    return { method: "private_key_jwt", assertion, clientId: form.get("client_id") ?? null };
  }
  if (header !== undefined && form.has("client_secret")) {
    throw new ApiError("invalid_request", "Authenticate with the Authorization header or the body, not both.");
  }
  if (header !== undefined) {
    const basic = authorizationCredentials(c.req.raw.headers, "Basic");
    if (basic === null) throw invalidClient(true);
    let clientId: string;
    let clientSecret: string;
    try {
      const decoded = STRICT_UTF8.decode(base64Decode(basic));
      const colon = decoded.indexOf(":");
      if (colon < 0) throw new Error("no colon");
      clientId = formDecode(decoded.slice(0, colon));
      clientSecret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw invalidClient(true);
    }
    // RFC 6749 §3.2.1 lets a client name itself in the body too; it must be the same client.
    if (form.has("client_id") && form.get("client_id") !== clientId) {
      throw invalidField("client_id", "client_id in the body differs from the Authorization header.");
    }
    return { method: "client_secret_basic", clientId, clientSecret };
  }
  const clientId = form.get("client_id");
  const clientSecret = form.get("client_secret");
  if (clientId === undefined && clientSecret === undefined) throw invalidClient(true);
  if (!clientId || !clientSecret) throw invalidClient(false);
  return { method: "client_secret_post", clientId, clientSecret };
}

/**
 * Verifies the client, with the failure rate limits: a failure counts against the client_id when
 * the client exists, else against the caller's IP (429 once over). Nothing is refused before it
 * is checked, so a correct secret always gets through.
 */
export async function authenticateClient(c: Context<AppEnv>, auth: ClientAuthentication, forToken?: { resource: string | undefined }) {
  const ip = clientIp(c.req.raw.headers);
  // The token endpoint wants the API (`resource`) and the credential's custom claims; introspection and revocation neither.
  const resource = forToken?.resource;
  const check = { ctx: c.executionCtx, ip, ipBlocked: isBlocked(ipKey(ip)), claims: forToken !== undefined, ...(resource === undefined ? {} : { resource }) };
  const result =
    auth.method === "private_key_jwt" ? await verifyClientAssertion(c.env, check, auth.assertion) : await verifyClient(c.env, check, auth.clientId, auth.clientSecret);
  // A client_id sent beside an assertion must be the assertion's own (RFC 7521 §4.2).
  const sameClient = auth.method !== "private_key_jwt" || auth.clientId === null || !result.valid || auth.clientId === result.identity.client_id;
  if (!result.valid || !sameClient) {
    await countFailure(c.env, ip, result.valid ? result.identity.client_id : result.failedCredential);
    throw invalidClient(auth.method === "client_secret_basic");
  }
  c.set("credentialId", result.identity.credential_id);
  return result.identity;
}
