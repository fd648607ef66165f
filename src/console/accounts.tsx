import type { FC } from "hono/jsx";
import { MAX_NAME_LENGTH } from "../config";
import type { Account } from "../services/accounts";
import type { Credential } from "../services/credentials";
import type { TwoWayPage } from "../services/search";
import { ColumnHeads, ConfirmForm, EmptyRow, Field, FieldError, FilterButtons, Layout, Name, Notice, OrganizationFilter, Pager, SearchField, StatusBadge, When, withQuery, Writable } from "./layout";
import { CardSection, Submit } from "./parts";

/**
 * The Accounts screen (search, create, filters and pages), the confirmation of an action on an
 * account, and what an account's page shares with them (its name field, its first fields).
 */

export interface AccountFilters {
  q: string | null;
  type: "service" | "user" | null;
  status: "active" | "deactivated" | null;
  organization_id: string | null;
}

/** The account name field of the create form and of an account's page (`error`: its message). */
export const AccountNameField: FC<{ value: string; error: string | undefined }> = ({ value, error }) => (
  <div>
    <label for="account-name">Account Name</label>
    <input
      id="account-name"
      name="name"
      type="text"
      required
      maxlength={MAX_NAME_LENGTH}
      autocomplete="off"
      dir="auto"
      value={value}
      {...(error ? { "aria-invalid": "true", "aria-describedby": "account-name-error", autofocus: true } : {})}
    />
    <FieldError error={error ? { field: "name", message: error } : undefined} field="name" id="account-name" />
  </div>
);

/** An account's ID, type and status: the first fields of its page and of its confirmations. */
export const AccountFields: FC<{ account: Account }> = ({ account }) => (
  <>
    <Field label="Account ID">
      <span class="mono">{account.id}</span>
    </Field>
    <Field label="Type">{account.type === "service" ? "Service account" : "User"}</Field>
    <Field label="Status">
      <StatusBadge status={account.status} />
    </Field>
  </>
);

/** A filter by account status (`name="status"`), as the accounts and credentials lists show it. */
export const AccountStatusFilter: FC<{ label: string; value: string | null | undefined }> = ({ label, value }) => (
  <div>
    <label for="status">{label}</label>
    <select id="status" name="status">
      <option value="">Any status</option>
      <option value="active" selected={value === "active"}>
        Active
      </option>
      <option value="deactivated" selected={value === "deactivated"}>
        Deactivated
      </option>
    </select>
  </div>
);

export const accountsHref = (back: string) => (back ? `/console/accounts?${back}` : "/console/accounts");

export const AccountsPage: FC<{
  actor: string;
  page: TwoWayPage<Account>;
  filters: AccountFilters;
  back: string;
  flash?: string | undefined;
  error?: string | undefined;
  values?: { name: string; type: "service" | "user" } | undefined;
}> = ({ actor, page, filters, back, flash, error, values }) => {
  const filtered = Boolean(filters.q || filters.type || filters.status || filters.organization_id);
  return (
    <Layout title="Accounts" section="accounts" actor={actor} focus={flash ? "heading" : undefined}>
      <h1>Accounts</h1>
      <p class="lead">Every credential belongs to an account. Deactivating an account stops all of its credentials at once.</p>
      {flash ? <Notice kind="ok">{flash}</Notice> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      <Writable>
        <form method="post" action="/console/accounts" class="card stack">
          <h2>Create account</h2>
          <AccountNameField value={values?.name ?? ""} error={error} />
          <fieldset>
            <legend>Account Type</legend>
            <label>
              <input type="radio" name="type" value="service" checked={(values?.type ?? "service") === "service"} /> Service account (Recommended)
            </label>
            <div class="hint">A stable, auditable identity for an integration that does not depend on any person's employment.</div>
            <label>
              <input type="radio" name="type" value="user" checked={values?.type === "user"} /> User
            </label>
          </fieldset>
          <Submit>Create account</Submit>
        </form>
      </Writable>
      <form method="get" action="/console/accounts" class="filters" role="search" aria-label="Find accounts">
        <SearchField value={filters.q} hint="Name or account ID" />
        <div>
          <label for="type">Type</label>
          <select id="type" name="type">
            <option value="">Any type</option>
            <option value="service" selected={filters.type === "service"}>Service account</option>
            <option value="user" selected={filters.type === "user"}>User</option>
          </select>
        </div>
        <AccountStatusFilter label="Status" value={filters.status} />
        <OrganizationFilter value={filters.organization_id} />
        <FilterButtons filtered={filtered} clearHref="/console/accounts" />
      </form>
      <table class="cards">
        <ColumnHeads columns={["Name", "Type", "Status", "Created (UTC)"]} />
        <tbody>
          {page.data.length === 0 ? (
            <EmptyRow columns={5}>{filtered || page.newer ? "No accounts match." : "No accounts yet."}</EmptyRow>
          ) : (
            page.data.map((account) => {
              const verb = account.status === "active" ? "Deactivate" : "Activate";
              return (
                <tr>
                  <td data-label="Name">
                    <a href={`/console/accounts/${account.id}`}>
                      <Name>{account.name}</Name>
                    </a>
                    <div class="hint mono">{account.id}</div>
                  </td>
                  <td data-label="Type">{account.type === "service" ? "Service account" : "User"}</td>
                  <td data-label="Status">
                    <StatusBadge status={account.status} />
                  </td>
                  <td data-label="Created (UTC)">
                    <When at={account.created_at} />
                  </td>
                  <td class="actions">
                    <Writable>
                      <a class="button small" href={withQuery(`/console/accounts/${account.id}/${verb.toLowerCase()}`, { back })} aria-label={`${verb} ${account.name}`}>
                        {verb}
                      </a>{" "}
                      <a class="button small danger" href={withQuery(`/console/accounts/${account.id}/delete`, { back })} aria-label={`Delete ${account.name}`}>
                        Delete
                      </a>
                    </Writable>
                  </td>
                </tr>
              );
            })
          )}
        </tbody>
      </table>
      <Pager path="/console/accounts" filters={{ ...filters }} newer={page.newer} older={page.older} />
    </Layout>
  );
};

export type AccountAction = "deactivate" | "activate" | "delete";

const CONSEQUENCE: Record<AccountAction, string> = {
  deactivate:
    "Every credential of this account stops working at once, and so does every access token they issued. It cannot get new credentials while deactivated. You can activate it again later; tokens issued before stay revoked.",
  activate: "The account's credentials work again. Access tokens issued before it was deactivated stay revoked.",
  delete: "Deletion is permanent: the account and all of its credentials are deleted, and every access token they issued stops working. This cannot be undone. The audit history stays.",
};

/** How many of an account's credentials the delete page names. */
export const NAMED_CREDENTIALS = 10;

export const ConfirmAccountPage: FC<{
  actor: string;
  account: Account;
  action: AccountAction;
  back: string;
  credentialCount: number;
  credentials: Credential[];
}> = ({ actor, account, action, back, credentialCount, credentials }) => {
  const verb = action === "delete" ? "Delete" : action === "deactivate" ? "Deactivate" : "Activate";
  return (
    <Layout title={`${verb} ${account.name}`} section="accounts" actor={actor}>
      <h1>
        {verb} <Name>{account.name}</Name>?
      </h1>
      <Notice kind={action === "activate" ? "warn" : "error"}>{CONSEQUENCE[action]}</Notice>
      <dl class="fields card">
        <AccountFields account={account} />
        <Field label="Credentials">
          {credentialCount === 0 ? (
            "None"
          ) : (
            <>
              <strong>
                {credentialCount} credential{credentialCount === 1 ? "" : "s"}
              </strong>
              {action === "delete" ? " will be deleted with it" : action === "deactivate" ? " will stop working" : " will work again"}
              {": "}
              {credentials.map((credential, i) => (
                <>
                  {i ? ", " : ""}
                  <Name>{credential.name}</Name>
                </>
              ))}
              {credentialCount > credentials.length ? `, and ${credentialCount - credentials.length} more` : ""}.
            </>
          )}
        </Field>
      </dl>
      <ConfirmForm action={`/console/accounts/${account.id}/${action}`} back={back} cancelHref={accountsHref(back)} kind={action === "activate" ? "primary" : "danger"}>
        {action === "delete" ? "Delete permanently" : verb}
      </ConfirmForm>
      {action === "delete" && account.status === "active" ? (
        <CardSection id="instead" heading="Or deactivate it instead">
          <p>Deactivating stops the account and its credentials just as quickly, and can be undone: activate it again at any time.</p>
          <form method="post" action={`/console/accounts/${account.id}/deactivate`}>
            <input type="hidden" name="back" value={back} />
            <button type="submit">Deactivate instead</button>
          </form>
        </CardSection>
      ) : null}
    </Layout>
  );
};
