import type { Context, Hono } from "hono";
import { type CredentialFilters, CredentialsPage } from "../../console/credential-list";
import type { AppEnv } from "../../http/types";
import * as accounts from "../../services/accounts";
import * as search from "../../services/search";
import { lastSevenDays, recentDailyUsage, usageReport } from "../../services/usage-reports";
import { listedOrganization, oneOf, pageRequest, sanitizeBack, searchText, strictQuery } from "./forms";

/**
 * The Credentials screen: search, filters and pages, with each credential's last 7 days and, for
 * one account, that account's usage. Its query is the `back` every credential screen returns to.
 */

/** The list's own parameters: all that `back` keeps. */
export const CREDENTIAL_LIST_KEYS = ["q", "type", "status", "account_id", "organization_id", "cursor", "before"] as const;

/** The list a credential screen was opened from (its `back` query parameter). */
export const backOf = (c: Context<AppEnv>) => sanitizeBack(c.req.query("back"), CREDENTIAL_LIST_KEYS);

function credentialFilters(query: Partial<Record<(typeof CREDENTIAL_LIST_KEYS)[number], string>>): CredentialFilters {
  return {
    q: searchText(query.q),
    type: oneOf("type", query.type, ["oauth_client", "api_key"] as const),
    status: oneOf("status", query.status, ["active", "deactivated"] as const),
    account_id: query.account_id || null,
    organization_id: null,
  };
}

export function registerCredentialListRoutes(ui: Hono<AppEnv>) {
  // The Credentials screen: search, filters and pages
  ui.get("/credentials", async (c) => {
    const query = strictQuery(c, [...CREDENTIAL_LIST_KEYS, "done"]);
    const filters = credentialFilters(query);
    const request = pageRequest(query);
    const own = c.get("adminOrganization");
    const organization = listedOrganization(c, query.organization_id);
    if (own === null) filters.organization_id = organization;
    const accountFilter = filters.account_id ? await accounts.getAccount(c.env, filters.account_id) : null;
    // Another organization's account is, in an organization's console, no account at all.
    if (accountFilter && own !== null && accountFilter.organization_id !== own) throw accounts.accountNotFound();
    const page = await search.findCredentials(
      c.env,
      { text: filters.q, type: filters.type, account_status: filters.status, account_id: filters.account_id, organization_id: organization },
      request,
    );
    const ids = page.data.map((credential) => credential.id);
    const [owners, usage, accountUsage] = await Promise.all([
      search.accountSummaries(c.env, page.data.map((credential) => credential.account_id)),
      recentDailyUsage(c.env, ids),
      accountFilter ? usageReport(c.env, { accountId: accountFilter.id }, lastSevenDays()) : null,
    ]);
    const back = sanitizeBack(new URL(c.req.url).search.slice(1), CREDENTIAL_LIST_KEYS);
    const flash = query.done === "deleted" ? "Credential deleted. Its secret and tokens no longer work." : undefined;
    return c.html(
      <CredentialsPage
        actor={c.get("actor")}
        page={page}
        accounts={owners}
        filters={filters}
        accountFilter={accountFilter}
        back={back}
        usage={usage}
        accountUsage={accountUsage}
        flash={flash}
      />,
    );
  });
}
