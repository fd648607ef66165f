import { settings } from "../config";
import { ApiError } from "../http/errors";
import { base64urlDecode, base64urlEncode, derivedHmacKey } from "../lib/crypto";
import { type AuditContext, insertAuditEvent } from "../storage/audit-events";
import { commit } from "../storage/d1";
import { claimJti } from "../storage/jti";
import { getOrganization } from "../storage/organizations";
import { nowIso } from "./ids";

/**
 * Console links (contract "Organizations (tenants)"): a platform admin's app asks for one for a
 * named person of an organization, and redirects them to it, as Stripe's Express dashboard login
 * links work. A link is single use (its id is claimed in the JtiStore Durable Object, so a second
 * use anywhere is refused), valid 5 minutes, and signed with a key derived from
 * KEY_ENCRYPTION_KEY: nothing is stored until it is used. Using it opens a console session bound
 * to the organization and the role.
 */

export const CONSOLE_LINK_LIFETIME_SECONDS = 300;
export type ConsoleRole = "admin" | "viewer";

interface LinkPayload {
  /** The link's id: claimed once. */
  lid: string;
  org: string;
  email: string;
  role: ConsoleRole;
  exp: number;
}

const linkKey = (env: Env) => derivedHmacKey(env.KEY_ENCRYPTION_KEY ?? "", "keymint console link v1");
const encoder = new TextEncoder();

/** Mints a link for `email` in an active organization; the event names the person, never the link. */
export async function createConsoleLink(env: Env, who: AuditContext, organizationId: string, input: { email: string; role: ConsoleRole }): Promise<{ url: string; expires_at: string }> {
  const organization = await getOrganization(env.DB, organizationId);
  if (!organization) throw new ApiError("not_found", "No organization has this id.");
  if (organization.status !== "active") throw new ApiError("invalid_request", "This organization is deactivated: activate it before opening its console.");
  const exp = Math.floor(Date.now() / 1000) + CONSOLE_LINK_LIFETIME_SECONDS;
  const payload: LinkPayload = { lid: crypto.randomUUID(), org: organizationId, email: input.email, role: input.role, exp };
  const body = base64urlEncode(encoder.encode(JSON.stringify(payload)));
  const signature = base64urlEncode(new Uint8Array(await crypto.subtle.sign("HMAC", await linkKey(env), encoder.encode(body))));
  const at = nowIso();
  await commit(env.DB, [
    insertAuditEvent(env.DB, who, at, {
      action: "organization.console_link",
      target_type: "organization",
      target_id: organizationId,
      target_name: organization.name,
      detail: `${input.email} (${input.role})`,
    }),
  ]);
  return { url: `${settings(env).issuer}/console/link/${body}.${signature}`, expires_at: new Date(exp * 1000).toISOString() };
}

export type Redeemed = { ok: true; organization: string; email: string; role: ConsoleRole; organizationName: string } | { ok: false; reason: string };

/** Uses a link: genuine, unexpired, never used before, for an organization that is still active. */
export async function redeemConsoleLink(env: Env, token: string): Promise<Redeemed> {
  const refused = (reason: string): Redeemed => ({ ok: false, reason });
  const [body, signature, ...rest] = token.split(".");
  if (!body || !signature || rest.length > 0 || token.length > 2048) return refused("This sign-in link is not one Keymint made.");
  let payload: LinkPayload;
  try {
    const genuine = await crypto.subtle.verify("HMAC", await linkKey(env), base64urlDecode(signature), encoder.encode(body));
    if (!genuine) return refused("This sign-in link is not one Keymint made.");
    payload = JSON.parse(new TextDecoder().decode(base64urlDecode(body))) as LinkPayload;
  } catch {
    return refused("This sign-in link is not one Keymint made.");
  }
  if (payload.exp <= Date.now() / 1000) return refused("This sign-in link has expired: links work for 5 minutes. Ask for a new one.");
  const organization = await getOrganization(env.DB, payload.org);
  if (!organization || organization.status !== "active") return refused("This organization is deactivated, so its console is closed.");
  if (!(await claimJti(env.JTI_STORE, `console-link:${payload.org}`, payload.lid, payload.exp))) {
    return refused("This sign-in link was used already: each works once. Ask for a new one.");
  }
  return { ok: true, organization: payload.org, email: payload.email, role: payload.role, organizationName: organization.name };
}
