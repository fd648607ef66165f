import { KV_MIN_TTL_SECONDS, adminTokenUsable } from "../config";
import { base64urlDecode, base64urlEncode } from "../lib/crypto";
import { getOrganization } from "../storage/organizations";
import { markerKey, readMarkers, writeMarker } from "../storage/revocation-markers";

/**
 * Console sessions, for admin-token sign-in and for console links. The cookie holds {sid, actor,
 * iat, exp}, and for a link's session the organization and role it is bound to, and an HMAC-SHA256
 * over them, keyed from ADMIN_TOKEN (so rotating the token ends every session). It never holds
 * the token. Signing out writes a KV marker for the sid until the session would have expired.
 * With an ADMIN_TOKEN that admin auth would refuse (empty or short), no session is signed or
 * accepted: a key derived from a guessable token would let anyone forge a cookie.
 */

/** Console sessions last this long; then the admin signs in again. */
export const SESSION_LIFETIME_SECONDS = 2 * 60 * 60;
export const SESSION_COOKIE = "km_session";

interface SessionPayload {
  sid: string;
  actor: string;
  iat: number;
  exp: number;
  /** A console link's session: the one organization it sees, and what it may do there. */
  org?: string;
  role?: "admin" | "viewer";
}

/** Who a genuine session is: its actor, and for a link's session its organization and role. */
export interface Session {
  sid: string;
  actor: string;
  organization: string | null;
  /** That organization's name now, for the console's header. */
  organizationName: string | null;
  role: "admin" | "viewer";
}

let hmac: { token: string; key: Promise<CryptoKey> } | undefined;

function sessionKey(env: Env): Promise<CryptoKey> | null {
  if (!adminTokenUsable(env)) return null;
  if (hmac?.token !== env.ADMIN_TOKEN) {
    const material = new TextEncoder().encode(`keymint console session v1\0${env.ADMIN_TOKEN}`);
    hmac = {
      token: env.ADMIN_TOKEN,
      key: crypto.subtle
        .digest("SHA-256", material)
        .then((digest) => crypto.subtle.importKey("raw", digest, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"])),
    };
  }
  return hmac.key;
}

export async function createSession(env: Env, actor: string, bound?: { organization: string; role: "admin" | "viewer" }): Promise<{ cookie: string; maxAge: number }> {
  const iat = Math.floor(Date.now() / 1000);
  const payload: SessionPayload = { sid: crypto.randomUUID(), actor, iat, exp: iat + SESSION_LIFETIME_SECONDS, ...(bound ? { org: bound.organization, role: bound.role } : {}) };
  const key = sessionKey(env);
  if (!key) throw new Error("ADMIN_TOKEN is not usable: no console session can be signed");
  const body = base64urlEncode(new TextEncoder().encode(JSON.stringify(payload)));
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", await key, new TextEncoder().encode(body)));
  return { cookie: `${body}.${base64urlEncode(signature)}`, maxAge: SESSION_LIFETIME_SECONDS };
}

async function parse(env: Env, cookie: string): Promise<SessionPayload | null> {
  const key = sessionKey(env);
  if (!key || cookie.length > 1024) return null;
  const [body, signature, ...rest] = cookie.split(".");
  if (!body || !signature || rest.length) return null;
  try {
    const valid = await crypto.subtle.verify("HMAC", await key, base64urlDecode(signature), new TextEncoder().encode(body));
    if (!valid) return null;
    const payload = JSON.parse(new TextDecoder().decode(base64urlDecode(body))) as SessionPayload;
    if (typeof payload.sid !== "string" || typeof payload.actor !== "string" || typeof payload.exp !== "number") return null;
    return payload.exp > Date.now() / 1000 ? payload : null;
  } catch {
    return null;
  }
}

/**
 * The session if the cookie is genuine, unexpired and not signed out, and, for a link's session,
 * its organization is active and has not been deactivated since the session opened (the
 * organization's row: the console is no hot path, and D1 says it for good, unlike a marker's TTL).
 */
export async function verifySession(env: Env, cookie: string): Promise<Session | null> {
  const payload = await parse(env, cookie);
  if (!payload) return null;
  const [[signedOut], organization] = await Promise.all([
    readMarkers(env.REVOCATIONS, [markerKey("session", payload.sid)]),
    payload.org ? getOrganization(env.DB, payload.org) : null,
  ]);
  if (signedOut) return null;
  if (payload.org) {
    // Deactivating the organization ends its sessions for good: reactivation does not revive them.
    if (!organization || organization.status !== "active") return null;
    if (organization.deactivated_at !== null && payload.iat <= Math.ceil(Date.parse(organization.deactivated_at) / 1000)) return null;
  }
  return { actor: payload.actor, sid: payload.sid, organization: payload.org ?? null, organizationName: organization?.name ?? null, role: payload.role ?? "admin" };
}

/** Ends a session for good, even if someone kept a copy of the cookie. */
export async function endSession(env: Env, cookie: string): Promise<void> {
  const payload = await parse(env, cookie);
  if (!payload) return;
  const ttl = Math.max(KV_MIN_TTL_SECONDS, payload.exp - Math.floor(Date.now() / 1000));
  await writeMarker(env.REVOCATIONS, markerKey("session", payload.sid), { all: true }, ttl);
}
