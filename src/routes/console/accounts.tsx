import type { Context, Hono } from "hono";
import { z } from "zod";
import { type AccountAction, type AccountFilters, AccountsPage, ConfirmAccountPage, NAMED_CREDENTIALS, accountsHref } from "../../console/accounts";
import { NameSchema } from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import * as accounts from "../../services/accounts";
import * as search from "../../services/search";
import { andDone, consoleAudit, form, formProblem, listedOrganization, oneOf, pageRequest, sanitizeBack, searchText, strictQuery } from "./forms";

/**
 * The Accounts screen (search, filters, pages, create) and the actions on an account, each after
 * a confirmation page: deactivate, activate, delete.
 */

/** The list's own parameters: all that `back` keeps. */
const ACCOUNT_LIST_KEYS = ["q", "type", "status", "organization_id", "cursor", "before"] as const;

async function accountsPage(
  c: Context<AppEnv>,
  extra: { flash?: string; error?: string; values?: { name: string; type: "service" | "user" } } = {},
  status: 200 | 400 = 200,
) {
  const query = status === 200 ? strictQuery(c, [...ACCOUNT_LIST_KEYS, "done"]) : {};
  const filters: AccountFilters = {
    q: searchText(query.q),
    type: oneOf("type", query.type, ["service", "user"] as const),
    status: oneOf("status", query.status, ["active", "deactivated"] as const),
    organization_id: c.get("adminOrganization") === null ? listedOrganization(c, query.organization_id) : null,
  };
  const organization = listedOrganization(c, query.organization_id);
  const page = await search.findAccounts(c.env, { text: filters.q, type: filters.type, status: filters.status, organization_id: organization }, pageRequest(query));
  const back = status === 200 ? sanitizeBack(new URL(c.req.url).search.slice(1), ACCOUNT_LIST_KEYS) : "";
  return c.html(<AccountsPage actor={c.get("actor")} page={page} filters={filters} back={back} {...extra} />, status);
}

/** The confirmation page and the post of one action on an account. */
function registerAccountAction(ui: Hono<AppEnv>, action: AccountAction) {
  ui.get(`/accounts/:id/${action}`, async (c) => {
    const account = await accounts.getAccount(c.env, c.req.param("id"));
    const [count, some] = await Promise.all([
      search.credentialCount(c.env, account.id),
      search.findCredentials(c.env, { text: null, type: null, account_status: null, account_id: account.id }, { limit: NAMED_CREDENTIALS, from: null }),
    ]);
    const back = sanitizeBack(c.req.query("back"), ACCOUNT_LIST_KEYS);
    return c.html(<ConfirmAccountPage actor={c.get("actor")} account={account} action={action} back={back} credentialCount={count} credentials={some.data} />);
  });
  ui.post(`/accounts/:id/${action}`, async (c) => {
    const id = c.req.param("id");
    const { back } = await form(c);
    if (action === "delete") await accounts.deleteAccount(c.env, consoleAudit(c), id);
    else if (action === "activate") await accounts.activateAccount(c.env, consoleAudit(c), id);
    else await accounts.deactivateAccount(c.env, consoleAudit(c), id);
    return c.redirect(andDone(accountsHref(sanitizeBack(back, ACCOUNT_LIST_KEYS)), action), 303);
  });
}

export function registerAccountRoutes(ui: Hono<AppEnv>) {
  // The Accounts screen: search, filters and pages
  ui.get("/accounts", async (c) => {
    const done = c.req.query("done");
    const flash = done
      ? `Account ${done === "delete" ? "deleted" : done === "activate" ? "activated" : done === "deactivate" ? "deactivated" : "created"}.`
      : undefined;
    return accountsPage(c, flash ? { flash } : {});
  });

  // Create an account
  ui.post("/accounts", async (c) => {
    const body = await form(c);
    const parsed = z.object({ name: NameSchema, type: z.enum(["service", "user"]) }).safeParse(body);
    if (!parsed.success) {
      const values = { name: (body.name ?? "").slice(0, 200), type: body.type === "user" ? ("user" as const) : ("service" as const) };
      return accountsPage(c, { error: formProblem(parsed.error).message, values }, 400);
    }
    // In an organization's console, its accounts go to that organization.
    await accounts.createAccount(c.env, consoleAudit(c), { ...parsed.data, organization_id: c.get("adminOrganization") ?? undefined });
    return c.redirect("/console/accounts?done=create", 303);
  });

  registerAccountAction(ui, "deactivate");
  registerAccountAction(ui, "activate");
  registerAccountAction(ui, "delete");
}
