import type { Context, Hono } from "hono";
import { z } from "zod";
import { MAX_BODY_BYTES } from "../../config";
import { type AccountFormError, AccountPage } from "../../console/account-page";
import { type AccountAction, type AccountFilters, AccountsPage, ConfirmAccountPage, NAMED_CREDENTIALS, accountsHref } from "../../console/accounts";
import { NameSchema } from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import { type MetadataRow, metadataRows } from "../../console/metadata-editor";
import * as accounts from "../../services/accounts";
import { ApiError } from "../../http/errors";
import * as organizations from "../../services/organizations";
import * as search from "../../services/search";
import { andDone, consoleAudit, form, formProblem, listedOrganization, oneOf, pageRequest, sanitizeBack, searchText, strictQuery } from "./forms";
import { againMetadataRows, metadataFrom, readMetadataRows } from "./metadata-form";

/**
 * The Accounts screen (search, filters, pages, create), an account's page (rename, metadata) and
 * the actions on an account, each after a confirmation page: deactivate, activate, delete.
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

const ACCOUNT_FLASH: Record<string, string> = { saved: "Account saved. Tokens minted from now on carry its name and metadata where an API's claims name them." };

/** An account's page (with the form's values and error after a refused save). */
async function accountPage(c: Context<AppEnv>, id: string, extra: { flash?: string | undefined; name?: string; rows?: MetadataRow[]; error?: AccountFormError } = {}, status: 200 | 400 = 200) {
  const account = await accounts.getAccount(c.env, id);
  const [organization, credentialCount] = await Promise.all([
    organizations.getOrganization(c.env, account.organization_id).catch((error: unknown) => {
      if (error instanceof ApiError && error.code === "not_found") return null;
      throw error;
    }),
    search.credentialCount(c.env, account.id),
  ]);
  return c.html(
    <AccountPage
      actor={c.get("actor")}
      account={account}
      organization={organization}
      credentialCount={credentialCount}
      name={extra.name ?? account.name}
      metadataRows={extra.rows ?? metadataRows(account.metadata)}
      error={extra.error}
      flash={extra.flash}
    />,
    status,
  );
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

  // An account: its fields, organization, metadata and the way to its credentials
  ui.get("/accounts/:id", async (c) => {
    const { done } = strictQuery(c, ["done"] as const);
    return accountPage(c, c.req.param("id"), { flash: done ? ACCOUNT_FLASH[done] : undefined });
  });

  // Rename an account and replace its metadata (all rows blank: none)
  ui.post("/accounts/:id", async (c) => {
    const id = c.req.param("id");
    const body = await form(c, MAX_BODY_BYTES);
    const name = (body.name ?? "").slice(0, 200);
    const rows = readMetadataRows(body);
    const again = (error: AccountFormError) => accountPage(c, id, { name, rows: againMetadataRows(rows), error }, 400);
    const parsed = NameSchema.safeParse(body.name ?? "");
    if (!parsed.success) return again({ field: "name", message: `Account Name: ${parsed.error.issues[0]?.message ?? "invalid"}.` });
    const read = metadataFrom(rows);
    if ("error" in read) return again({ field: "metadata", rows: read.error });
    await accounts.updateAccount(c.env, consoleAudit(c), id, { name: parsed.data, metadata: read.value });
    return c.redirect(`/console/accounts/${id}?done=saved`, 303);
  });

  registerAccountAction(ui, "deactivate");
  registerAccountAction(ui, "activate");
  registerAccountAction(ui, "delete");
}
