import { adminTokenUsable, settings } from "../config";
import { DEFAULT_ORGANIZATION_ID } from "../storage/organizations";
import { sha256Hex, timingSafeEqual } from "../lib/crypto";
import { accessConfig, verifyAccessJwt } from "./access";
import { verifySession } from "./sessions";
import { looksLikeJwt, verifyAccessToken } from "./verification";

/** The scope that makes an access token an admin credential; ADMIN_READ_SCOPE one that may only read. */
export const ADMIN_SCOPE = "admin";
export const ADMIN_READ_SCOPE = "admin:read";

/**
 * Who may use the management API and the console. Each mode turns request facts into an actor
 * name for the audit log, or says nothing so the next mode can try:
 *   1. the bootstrap ADMIN_TOKEN                      actor `admin_token`
 *   2. an access token whose scope contains `admin`   actor `client:<client_id>` (see tokens.ts)
 *   3. a Cloudflare Access JWT, when configured       actor `access:<email>` (see access.ts)
 */
export type AdminAuthResult = { ok: true } & Admin | { ok: false; code: "unauthorized" | "forbidden"; reason: string };

/**
 * Who an admin is and what they may reach: `organization` null for platform admins (the
 * ADMIN_TOKEN, Access, console sign-in, and access tokens of org_default's credentials), else the
 * one organization an organization admin manages; `readOnly` for scope admin:read alone.
 */
export interface Admin {
  actor: string;
  organization: string | null;
  /** A console link's session: its organization's name, for the console's header. */
  organizationName?: string | null;
  readOnly: boolean;
}

const platform = (actor: string): { ok: true } & Admin => ({ ok: true, actor, organization: null, readOnly: false });

let adminTokenDigest: { token: string; digest: Promise<string> } | undefined;

/** Constant-time check of a presented token against ADMIN_TOKEN (digest computed once per isolate). */
export async function isAdminToken(env: Env, presented: string): Promise<boolean> {
  if (!adminTokenUsable(env)) return false; // misconfigured: nobody gets in
  if (adminTokenDigest?.token !== env.ADMIN_TOKEN) {
    adminTokenDigest = { token: env.ADMIN_TOKEN, digest: sha256Hex(env.ADMIN_TOKEN) };
  }
  return timingSafeEqual(await sha256Hex(presented), await adminTokenDigest.digest);
}

export interface AdminCredentials {
  /** The token of `Authorization: Bearer <token>`, if any. */
  bearer: string | null;
  /** The `Cf-Access-Jwt-Assertion` header, if any. */
  accessJwt: string | null;
  /** The console's session cookie; only the console passes it (the API takes no cookies). */
  session?: string | null;
}

export async function authenticateAdmin(env: Env, presented: AdminCredentials): Promise<AdminAuthResult> {
  if (presented.bearer !== null) {
    if (await isAdminToken(env, presented.bearer)) return platform("admin_token");
    if (looksLikeJwt(presented.bearer)) {
      // Only tokens for Keymint itself (the default API): an `admin` scope on another API is that API's business.
      const token = await verifyAccessToken(env, presented.bearer, settings(env).audience);
      // A DPoP-bound token needs a proof of its key, which the admin API does not take: refused.
      if (token.valid && !token.identity.token.cnf) {
        const { scopes, organization_id, token: claims } = token.identity;
        if (!scopes.includes(ADMIN_SCOPE) && !scopes.includes(ADMIN_READ_SCOPE)) {
          return { ok: false, code: "forbidden", reason: `This access token lacks the ${ADMIN_SCOPE} scope.` };
        }
        return {
          ok: true,
          actor: `client:${claims.client_id}`,
          // A credential of the default organization is a platform admin; any other manages its own organization.
          organization: organization_id === DEFAULT_ORGANIZATION_ID ? null : organization_id,
          readOnly: !scopes.includes(ADMIN_SCOPE),
        };
      }
    }
  }
  const access = accessConfig(env);
  if (presented.session) {
    const session = await verifySession(env, presented.session);
    // With Access on, the platform's console is Access's alone; a console link's session (an
    // organization's customer, who has no Access login) still opens that organization's console,
    // and comes first: a browser holding one sees that organization alone, Access assertion or not.
    if (session && !(access && session.organization === null)) return { ok: true, actor: session.actor, organization: session.organization, organizationName: session.organizationName, readOnly: session.role === "viewer" };
  }
  if (access && presented.accessJwt !== null) {
    const email = await verifyAccessJwt(access, presented.accessJwt);
    if (email) return platform(`access:${email}`);
  }
  return { ok: false, code: "unauthorized", reason: "Send an admin bearer token." };
}
