import type { Context, Hono } from "hono";
import { z } from "zod";
import { MAX_BODY_BYTES, MAX_ID_LENGTH } from "../../config";
import type { AccessError, GrantSelection } from "../../console/apis";
import { type FormError, NewCredentialPage, type NewCredentialValues } from "../../console/credential-new";
import { NameSchema } from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import * as accounts from "../../services/accounts";
import type * as apis from "../../services/apis";
import * as credentials from "../../services/credentials";
import { organizationOf } from "../../services/organizations";
import * as search from "../../services/search";
import { randomBase62 } from "../../services/secrets";
import { answerCreate } from "./credential-shown-once";
import { MAX_SEARCH, NONCE, consoleAudit, expiryFrom, fieldMessage, form, formProblem, jwksFrom, refusalOf, strictQuery } from "./forms";
import { accessFrom, allApis, grantsChanged, incompleteApis, isGrantField, readSelection } from "./grants";

/**
 * The create-credential form and its post: name, type, an account found by search, client
 * authentication (a secret, or a pasted JWK Set), DPoP, expiry and grants. The answer shows the
 * secret once (./credential-shown-once.tsx).
 */

const CredentialForm = z.object({
  nonce: z.string({ message: "the form expired; load it again" }).regex(NONCE, "the form expired; load it again"),
  name: NameSchema,
  type: z.enum(["oauth_client", "api_key"], { message: "choose a type" }),
  account_id: z.string().min(1, "choose an account").max(MAX_ID_LENGTH, "choose an account"),
});

/** The account picker shows this many accounts: the newest, or those matching the search. */
const ACCOUNT_CHOICES = 100;

/** The new-credential form's values from its fields (a POST body, or the query of Find). */
function newCredentialValues(fields: Record<string, string | undefined>): NewCredentialValues {
  return {
    name: (fields.name ?? "").slice(0, 200),
    type: fields.type === "api_key" ? "api_key" : "oauth_client",
    account_id: (fields.account_id ?? "").slice(0, MAX_ID_LENGTH),
    account_q: (fields.account_q ?? "").slice(0, MAX_SEARCH),
    token_endpoint_auth_method: fields.token_endpoint_auth_method === "private_key_jwt" ? "private_key_jwt" : "client_secret_basic",
    jwks: (fields.jwks ?? "").slice(0, 32_000),
    dpop_bound_access_tokens: fields.dpop_bound_access_tokens === "true",
    expires_at: (fields.expires_at ?? "").slice(0, 40),
  };
}

/** The accounts the new-credential form offers: the newest, or those matching the search; plus the chosen one. */
async function accountChoices(c: Context<AppEnv>, accountQuery: string, selected: string): Promise<accounts.Account[]> {
  const text = accountQuery.trim().slice(0, MAX_SEARCH) || null;
  const own = c.get("adminOrganization");
  const list = (await search.findAccounts(c.env, { text, type: null, status: null, organization_id: own }, { limit: ACCOUNT_CHOICES, from: null })).data;
  if (!selected || list.some((account) => account.id === selected)) return list;
  const extra = await accounts.findAccount(c.env, selected.slice(0, MAX_ID_LENGTH));
  return extra && (own === null || extra.organization_id === own) ? [extra, ...list] : list;
}

async function newCredentialForm(
  c: Context<AppEnv>,
  values: NewCredentialValues,
  selection: GrantSelection,
  problem: { error?: FormError; accessError?: AccessError } = {},
  status: 200 | 400 = 200,
  apiList?: apis.Api[],
) {
  return c.html(
    <NewCredentialPage
      actor={c.get("actor")}
      accounts={await accountChoices(c, values.account_q, values.account_id)}
      apis={apiList ?? (await allApis(c.env)).list}
      nonce={randomBase62(32)}
      values={values}
      selection={selection}
      maxLifetimeDays={credentials.maxLifetimeDays(c.env)}
      error={problem.error}
      accessError={problem.accessError}
    />,
    status,
  );
}

export function registerNewCredentialRoutes(ui: Hono<AppEnv>) {
  // Form to create a credential; the account picker searches every account
  ui.get("/credentials/new", async (c) => {
    // Find (a GET of the whole form) carries the grant checkboxes too.
    const grantFields = Object.keys(c.req.queries()).filter(isGrantField);
    const query: Record<string, string | undefined> = strictQuery(c, [
      "account_id",
      "account_q",
      "name",
      "type",
      "nonce",
      "scopes",
      "token_endpoint_auth_method",
      "jwks",
      "dpop_bound_access_tokens",
      "expires_at",
      ...grantFields,
    ]);
    return newCredentialForm(c, newCredentialValues(query), readSelection(query));
  });

  // Create a credential; the response shows its secret once
  ui.post("/credentials", async (c) => {
    const body = await form(c, MAX_BODY_BYTES);
    const values = newCredentialValues(body);
    const selection = readSelection(body);
    const { list, complete } = await allApis(c.env);
    const again = (problem: { error?: FormError; accessError?: AccessError }, shown = values) => newCredentialForm(c, shown, selection, problem, 400, list);
    const parsed = CredentialForm.safeParse(body);
    if (!parsed.success) return again({ error: formProblem(parsed.error) });
    const privateKeyJwt = values.token_endpoint_auth_method === "private_key_jwt";
    if (privateKeyJwt && values.type !== "oauth_client") {
      return again({ error: { field: "token_endpoint_auth_method", message: "Client authentication: a private key JWT is for OAuth 2.0 clients. Choose that type, or Client secret." } });
    }
    let jwks: { keys: Record<string, unknown>[] } | undefined;
    if (privateKeyJwt) {
      const read = jwksFrom(values.jwks);
      if ("message" in read) return again({ error: { field: "jwks", message: read.message } });
      jwks = read.value;
    } else if (values.jwks.trim()) {
      return again({ error: { field: "jwks", message: "JWK Set: only a private key JWT client has one. Choose Private key JWT above, or empty this field." } });
    }
    if (values.dpop_bound_access_tokens && values.type !== "oauth_client") {
      return again({ error: { field: "dpop_bound_access_tokens", message: "Require DPoP-bound tokens: only OAuth 2.0 clients get tokens. Uncheck it for an API key." } });
    }
    const expiry = expiryFrom(values.expires_at);
    if ("message" in expiry) return again({ error: { field: "expires_at", message: expiry.message } });
    const access = accessFrom(selection, list);
    if ("field" in access) return again({ accessError: access });
    if (access.grants.length && !complete) throw incompleteApis();
    const { nonce, ...input } = parsed.data;
    const lifecycle = {
      ...(privateKeyJwt ? { token_endpoint_auth_method: "private_key_jwt" as const, jwks } : {}),
      ...(values.dpop_bound_access_tokens ? { dpop_bound_access_tokens: true } : {}),
      ...(expiry.value === null ? {} : { expires_at: expiry.value }),
    };
    let result: Awaited<ReturnType<typeof credentials.createCredential>>;
    try {
      // Another organization's account is, in an organization's console, no account at all.
      const own = c.get("adminOrganization");
      if (own !== null && (await organizationOf(c.env, "account", input.account_id)) !== own) throw credentials.unknownAccount();
      result = await credentials.createCredential(c.env, consoleAudit(c), { ...input, ...access, ...lifecycle }, `console:${nonce}`);
    } catch (error) {
      const expiryRefusal = refusalOf(error, "expires_at");
      if (expiryRefusal) return again({ error: { field: "expires_at", message: fieldMessage("Expires at", expiryRefusal) } });
      const jwksRefusal = refusalOf(error, "jwks");
      if (jwksRefusal) return again({ error: { field: "jwks", message: fieldMessage("JWK Set", jwksRefusal) } });
      const accountRefusal = refusalOf(error, "account_id");
      if (accountRefusal) {
        if (accountRefusal.code === "not_found") {
          return again({ error: { field: "account_id", message: "Account: no account has this id." } }, { ...values, account_id: "" });
        }
        // The service's other refusal of the account: it is deactivated.
        const account = await accounts.findAccount(c.env, input.account_id);
        const message = `Account: ${account?.name ?? "this account"} is deactivated, so its credentials would work nowhere. Activate it on the Accounts page first, or choose another account.`;
        return again({ error: { field: "account_id", message } });
      }
      const grantsRefusal = refusalOf(error, "grants");
      if (grantsRefusal) return newCredentialForm(c, values, selection, { accessError: grantsChanged(grantsRefusal) }, 400);
      throw error;
    }
    return answerCreate(c, result);
  });
}
