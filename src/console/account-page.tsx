import type { FC } from "hono/jsx";
import { MAX_NAME_LENGTH } from "../config";
import type { Account } from "../services/accounts";
import type { Organization } from "../services/organizations";
import { AccountStatusBadge } from "./accounts";
import { Field, FieldError, Layout, Name, Notice, PlatformOnly, When, withQuery, Writable } from "./layout";
import { MetadataEditor, MetadataList, type MetadataRow, type RowsError } from "./metadata-editor";

/**
 * An account's page: its fields, organization, metadata and the way to its credentials, and the
 * form that renames it and replaces its metadata (left out for viewers, who see the values).
 */

/** The form's error: the name's, or the metadata editor's. */
export type AccountFormError = { field: "name"; message: string } | { field: "metadata"; rows: RowsError };

export const AccountPage: FC<{
  actor: string;
  account: Account;
  organization: Organization | null;
  credentialCount: number;
  name: string;
  metadataRows: MetadataRow[];
  error?: AccountFormError | undefined;
  flash?: string | undefined;
}> = ({ actor, account, organization, credentialCount, name, metadataRows, error, flash }) => {
  const verb = account.status === "active" ? "Deactivate" : "Activate";
  const credentialsHref = withQuery("/console/credentials", { account_id: account.id });
  return (
    <Layout title={account.name} section="accounts" actor={actor} focus={flash ? "heading" : undefined}>
      <p>
        <a href="/console/accounts">← Accounts</a>
      </p>
      <div class="page-head">
        <div>
          <h1>
            <Name>{account.name}</Name>
          </h1>
          <p class="lead">{account.type === "service" ? "Service account" : "User"}</p>
        </div>
        <Writable>
          <div class="confirm-actions">
            <a class="button" href={`/console/accounts/${account.id}/${verb.toLowerCase()}`}>
              {verb}
            </a>
            <a class="button danger" href={`/console/accounts/${account.id}/delete`}>
              Delete
            </a>
          </div>
        </Writable>
      </div>
      {flash ? <Notice kind="ok">{flash}</Notice> : null}
      {account.status === "deactivated" ? <Notice kind="warn">This account is deactivated: none of its credentials works until it is activated again.</Notice> : null}
      <dl class="fields card">
        <Field label="Account ID">
          <span class="mono">{account.id}</span>
        </Field>
        <Field label="Type">{account.type === "service" ? "Service account" : "User"}</Field>
        <Field label="Status">
          <AccountStatusBadge status={account.status} />
        </Field>
        <Field label="Organization">
          {organization ? <Name>{organization.name}</Name> : null} <span class="hint mono">{account.organization_id}</span>
          <PlatformOnly>
            {" "}
            <a href={`/console/organizations/${account.organization_id}`}>Open</a>
          </PlatformOnly>
        </Field>
        <Field label="Credentials">
          <a href={credentialsHref}>
            {credentialCount === 0 ? "None yet" : `${credentialCount} credential${credentialCount === 1 ? "" : "s"}`}
          </a>
        </Field>
        <Field label="Created (UTC)">
          <When at={account.created_at} />
        </Field>
        <Field label="Metadata">
          <MetadataList metadata={account.metadata} />
        </Field>
      </dl>
      <Writable>
        <section class="card" aria-labelledby="edit-heading">
          <h2 id="edit-heading">Name and metadata</h2>
          <p class="hint">
            Both can be copied into tokens: an API whose token claims name <code>account.name</code> or <code>account.metadata.&lt;name&gt;</code> carries the new values in
            tokens minted after you save.
          </p>
          <form method="post" action={`/console/accounts/${account.id}`} class="stack">
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
                value={name}
                {...(error?.field === "name" ? { "aria-invalid": "true", "aria-describedby": "account-name-error", autofocus: true } : {})}
              />
              <FieldError error={error?.field === "name" ? error : undefined} field="name" id="account-name" />
            </div>
            <MetadataEditor rows={metadataRows} error={error?.field === "metadata" ? error.rows : undefined} />
            <div>
              <button type="submit" class="primary">
                Save account
              </button>
            </div>
          </form>
        </section>
      </Writable>
    </Layout>
  );
};
