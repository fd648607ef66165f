import type { Context, Hono } from "hono";
import { MAX_BODY_BYTES } from "../../config";
import type { AccessError, GrantSelection } from "../../console/apis";
import { CredentialPage, type SettingsError, type SettingsValues } from "../../console/credential-page";
import { allowlistText, isPrivateKeyJwt, toDateTimeInput } from "../../console/lifecycle";
import { ApiError } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import * as accounts from "../../services/accounts";
import * as credentials from "../../services/credentials";
import { handoff } from "../../services/handoff";
import * as search from "../../services/search";
import { lastSevenDays, usageReport } from "../../services/usage-reports";
import { type MetadataRow, type RowsError, metadataRows } from "../../console/metadata-editor";
import { CREDENTIAL_LIST_KEYS, backOf } from "./credential-list";
import { allowlistFrom, consoleAudit, expiryFrom, fieldMessage, form, jwksFrom, jwksText, refusalOf, sanitizeBack, strictQuery } from "./forms";
import { accessFrom, allApis, grantsChanged, incompleteApis, readSelection, selectionOf } from "./grants";
import { againMetadataRows, metadataFrom, readMetadataRows } from "./metadata-form";

/**
 * A credential's page: its fields, account, usage, handoff kit and history, and the forms it
 * saves: access (scopes and grants), expiry and restrictions, a private_key_jwt client's keys, and
 * its metadata.
 */

/** The history a credential page shows before linking to the audit log. */
const HISTORY_SIZE = 20;

/** The account a credential belongs to, if it still exists. */
export const ownerOf = (c: Context<AppEnv>, credential: credentials.Credential) => accounts.findAccount(c.env, credential.account_id);

const CREDENTIAL_FLASH: Record<string, string> = {
  "grace-ended": "The previous secret no longer works.",
  "access-saved": "Access saved. Tokens minted from now on follow it.",
  "settings-saved": "Expiry and restrictions saved.",
  "settings-unchanged": "Nothing changed: the expiry and restrictions were already so.",
  "keys-saved": "Keys replaced. A key no longer in the set stopped working at once.",
  "metadata-saved": "Metadata saved. Tokens minted from now on carry it where an API's claims name it.",
};

const settingsOf = (credential: credentials.Credential): SettingsValues => ({
  expires_at: toDateTimeInput(credential.expires_at),
  allowed_ips: allowlistText(credential.allowed_ips),
  dpop_bound_access_tokens: credential.dpop_bound_access_tokens,
});

/** The credential's page after a save, saying what was done. */
const savedHref = (id: string, back: string, done: string) => `/console/credentials/${id}?${new URLSearchParams({ ...(back ? { back } : {}), done })}`;

/** A credential: its fields, account, handoff kit and history (with a form's values and error after a refused save). */
async function credentialPage(
  c: Context<AppEnv>,
  id: string,
  back: string,
  extra: {
    flash?: string | undefined;
    selection?: GrantSelection;
    accessError?: AccessError;
    settings?: SettingsValues;
    settingsError?: SettingsError;
    jwks?: string;
    jwksError?: string;
    metadata?: MetadataRow[];
    metadataError?: RowsError;
  } = {},
  status: 200 | 400 = 200,
) {
  const credential = await credentials.getCredential(c.env, id);
  const [account, history, { list }, usage] = await Promise.all([
    ownerOf(c, credential),
    search.findAuditEvents(c.env, credential.id, { limit: HISTORY_SIZE, from: null }),
    allApis(c.env),
    usageReport(c.env, { credentialId: credential.id }, lastSevenDays()),
  ]);
  return c.html(
    <CredentialPage
      actor={c.get("actor")}
      credential={credential}
      account={account}
      events={history.data}
      moreEvents={history.older !== null}
      urls={handoff(c.env)}
      back={back}
      apis={list}
      selection={extra.selection ?? selectionOf(credential, list)}
      accessError={extra.accessError}
      maxLifetimeDays={credentials.maxLifetimeDays(c.env)}
      settings={extra.settings ?? settingsOf(credential)}
      settingsError={extra.settingsError}
      jwks={extra.jwks ?? jwksText(credential.jwks)}
      jwksError={extra.jwksError}
      metadataRows={extra.metadata ?? metadataRows(credential.metadata)}
      metadataError={extra.metadataError}
      usage={usage}
      flash={extra.flash}
    />,
    status,
  );
}

export function registerCredentialPageRoutes(ui: Hono<AppEnv>) {
  // A credential: its fields, account, handoff kit and history
  ui.get("/credentials/:id", async (c) => {
    const query = strictQuery(c, ["back", "done"] as const);
    return credentialPage(c, c.req.param("id"), backOf(c), { flash: query.done ? CREDENTIAL_FLASH[query.done] : undefined });
  });

  // Save a credential's access: the default API's scopes and the grants on other APIs
  ui.post("/credentials/:id/access", async (c) => {
    const id = c.req.param("id");
    const body = await form(c, MAX_BODY_BYTES);
    const back = sanitizeBack(body.back, CREDENTIAL_LIST_KEYS);
    const selection = readSelection(body);
    const { list, complete } = await allApis(c.env);
    if (!complete) throw incompleteApis();
    const access = accessFrom(selection, list);
    if ("field" in access) return credentialPage(c, id, back, { selection, accessError: access }, 400);
    try {
      await credentials.updateCredential(c.env, consoleAudit(c), id, access);
    } catch (error) {
      const refusal = refusalOf(error, "grants");
      if (!refusal) throw error;
      return credentialPage(c, id, back, { selection, accessError: grantsChanged(refusal) }, 400);
    }
    return c.redirect(savedHref(id, back, "access-saved"), 303);
  });

  // Save a credential's expiry, IP allowlist and (OAuth clients) whether DPoP is required
  ui.post("/credentials/:id/settings", async (c) => {
    const id = c.req.param("id");
    const body = await form(c);
    const back = sanitizeBack(body.back, CREDENTIAL_LIST_KEYS);
    const credential = await credentials.getCredential(c.env, id);
    const typed: SettingsValues = {
      expires_at: (body.expires_at ?? "").slice(0, 40),
      allowed_ips: (body.allowed_ips ?? "").slice(0, 4000),
      dpop_bound_access_tokens: body.dpop_bound_access_tokens === "true",
    };
    const again = (settingsError: SettingsError) => credentialPage(c, id, back, { settings: typed, settingsError }, 400);
    const expiry = expiryFrom(typed.expires_at);
    if ("message" in expiry) return again({ field: "expires_at", message: expiry.message });
    const allowlist = allowlistFrom(typed.allowed_ips);
    if ("message" in allowlist) return again({ field: "allowed_ips", message: allowlist.message });
    if (typed.dpop_bound_access_tokens && credential.type !== "oauth_client") {
      return again({ field: "dpop_bound_access_tokens", message: "Require DPoP-bound tokens: only OAuth 2.0 clients get tokens." });
    }
    // Only what changed is sent: the form shows the expiry to the second, so an untouched field
    // must not shave the milliseconds off (nor write an audit event for nothing).
    const changes = {
      expires_at: typed.expires_at.trim() === toDateTimeInput(credential.expires_at) ? undefined : expiry.value,
      allowed_ips: JSON.stringify(allowlist.value) === JSON.stringify(credential.allowed_ips) ? undefined : allowlist.value,
      dpop_bound_access_tokens:
        credential.type !== "oauth_client" || typed.dpop_bound_access_tokens === credential.dpop_bound_access_tokens ? undefined : typed.dpop_bound_access_tokens,
    };
    if (Object.values(changes).every((value) => value === undefined)) return c.redirect(savedHref(id, back, "settings-unchanged"), 303);
    try {
      await credentials.updateCredential(c.env, consoleAudit(c), id, changes);
    } catch (error) {
      const refusal = refusalOf(error, "expires_at");
      if (!refusal) throw error;
      return again({ field: "expires_at", message: fieldMessage("Expires at", refusal) });
    }
    return c.redirect(savedHref(id, back, "settings-saved"), 303);
  });

  // Replace the public keys of a private_key_jwt client (rotation)
  ui.post("/credentials/:id/jwks", async (c) => {
    const id = c.req.param("id");
    const body = await form(c, MAX_BODY_BYTES);
    const back = sanitizeBack(body.back, CREDENTIAL_LIST_KEYS);
    const credential = await credentials.getCredential(c.env, id);
    if (!isPrivateKeyJwt(credential)) throw new ApiError("invalid_request", "Only a private key JWT client has public keys to replace.");
    const typed = (body.jwks ?? "").slice(0, 32_000);
    const read = jwksFrom(typed);
    if ("message" in read) return credentialPage(c, id, back, { jwks: typed, jwksError: read.message }, 400);
    try {
      await credentials.updateCredential(c.env, consoleAudit(c), id, { jwks: read.value });
    } catch (error) {
      const expiryRefusal = refusalOf(error, "expires_at");
      if (expiryRefusal) {
        // An expired credential (or one outside the lifetime policy) must get a valid expiry first.
        const message = `${fieldMessage("Expires at", expiryRefusal)} Set it before replacing the keys.`;
        return credentialPage(c, id, back, { jwks: typed, settingsError: { field: "expires_at", message } }, 400);
      }
      const jwksRefusal = refusalOf(error, "jwks");
      if (!jwksRefusal) throw error;
      return credentialPage(c, id, back, { jwks: typed, jwksError: fieldMessage("JWK Set", jwksRefusal) }, 400);
    }
    return c.redirect(savedHref(id, back, "keys-saved"), 303);
  });

  // Replace a credential's metadata (all rows blank: none)
  ui.post("/credentials/:id/metadata", async (c) => {
    const id = c.req.param("id");
    const body = await form(c, MAX_BODY_BYTES);
    const back = sanitizeBack(body.back, CREDENTIAL_LIST_KEYS);
    const rows = readMetadataRows(body);
    const typed = againMetadataRows(rows);
    const read = metadataFrom(rows);
    if ("error" in read) return credentialPage(c, id, back, { metadata: typed, metadataError: read.error }, 400);
    try {
      await credentials.updateCredential(c.env, consoleAudit(c), id, { metadata: read.value });
    } catch (error) {
      // An expired credential (or one outside the lifetime policy) must get a valid expiry first.
      const refusal = refusalOf(error, "expires_at");
      if (!refusal) throw error;
      const message = `${fieldMessage("Expires at", refusal)} Set it before changing the metadata.`;
      return credentialPage(c, id, back, { metadata: typed, settingsError: { field: "expires_at", message } }, 400);
    }
    return c.redirect(savedHref(id, back, "metadata-saved"), 303);
  });
}
