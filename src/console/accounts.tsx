import type { FC } from "hono/jsx";
import type { Account } from "../services/accounts";
import { Layout, Notice, Pager, When } from "./layout";

export const AccountsPage: FC<{ actor: string; accounts: Account[]; next: string | null; flash?: string | undefined; error?: string | undefined }> = ({
  actor,
  accounts,
  next,
  flash,
  error,
}) => (
  <Layout title="Accounts" section="accounts" actor={actor}>
    <h1>Accounts</h1>
    <p class="lead">Every credential belongs to an account. Deactivating an account stops all of its credentials at once.</p>
    {flash ? <Notice kind="ok">{flash}</Notice> : null}
    {error ? <Notice kind="error">{error}</Notice> : null}
    <form method="post" action="/console/accounts" class="card stack">
      <h2 style="margin:0;font-size:17px">Create account</h2>
      <div>
        <label for="account-name">Account Name</label>
        <input id="account-name" name="name" type="text" required maxlength={100} autocomplete="off" />
      </div>
      <fieldset>
        <legend>Account Type</legend>
        <label>
          <input type="radio" name="type" value="service" checked /> Service account (Recommended)
        </label>
        <div class="hint">A stable, auditable identity for an integration that does not depend on any person's employment.</div>
        <label>
          <input type="radio" name="type" value="user" /> User
        </label>
      </fieldset>
      <div>
        <button type="submit" class="primary">Create account</button>
      </div>
    </form>
    <table>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Type</th>
          <th scope="col">Status</th>
          <th scope="col">Created (UTC)</th>
          <th scope="col"><span class="sr-only">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        {accounts.length === 0 ? (
          <tr>
            <td colspan={5} class="empty">No accounts yet.</td>
          </tr>
        ) : (
          accounts.map((account) => (
            <tr>
              <td>
                <a href={`/console/credentials?account_id=${encodeURIComponent(account.id)}`}>{account.name}</a>
                <div class="hint mono">{account.id}</div>
              </td>
              <td>{account.type === "service" ? "Service account" : "User"}</td>
              <td>
                <span class={`badge ${account.status === "active" ? "ok" : "off"}`}>{account.status === "active" ? "Active" : "Deactivated"}</span>
              </td>
              <td><When at={account.created_at} /></td>
              <td class="actions">
                <form method="get" action={`/console/accounts/${account.id}/${account.status === "active" ? "deactivate" : "activate"}`}>
                  <button type="submit" aria-label={`${account.status === "active" ? "Deactivate" : "Activate"} ${account.name}`}>
                    {account.status === "active" ? "Deactivate" : "Activate"}
                  </button>
                </form>{" "}
                <form method="get" action={`/console/accounts/${account.id}/delete`}>
                  <button type="submit" class="danger" aria-label={`Delete ${account.name}`}>Delete</button>
                </form>
              </td>
            </tr>
          ))
        )}
      </tbody>
    </table>
    <Pager next={next} base="/console/accounts" />
  </Layout>
);

export type AccountAction = "deactivate" | "activate" | "delete";

const CONSEQUENCE: Record<AccountAction, string> = {
  deactivate: "Every credential of this account stops working at once, and so does every access token they issued. You can activate it again later; tokens issued before stay revoked.",
  activate: "The account's credentials work again. Access tokens issued before it was deactivated stay revoked.",
  delete: "Deletion is permanent: the account and all of its credentials are deleted, and every access token they issued stops working. This cannot be undone.",
};

export const ConfirmAccountPage: FC<{ actor: string; account: Account; action: AccountAction }> = ({ actor, account, action }) => {
  const verb = action === "delete" ? "Delete" : action === "deactivate" ? "Deactivate" : "Activate";
  return (
    <Layout title={`${verb} ${account.name}`} section="accounts" actor={actor}>
      <h1>
        {verb} {account.name}?
      </h1>
      <Notice kind={action === "activate" ? "warn" : "error"}>{CONSEQUENCE[action]}</Notice>
      <form method="post" action={`/console/accounts/${account.id}/${action}`}>
        <button type="submit" class={action === "activate" ? "primary" : "danger"}>
          {action === "delete" ? "Delete permanently" : verb}
        </button>{" "}
        <a class="button" href="/console/accounts">Cancel</a>
      </form>
    </Layout>
  );
};
