import type { FC } from "hono/jsx";
import type { Account } from "../services/accounts";
import type { Organization } from "../services/organizations";
import { AccountFields, AccountNameField } from "./accounts";
import { Field, Layout, Name, Notice, PlatformOnly, When, withQuery, Writable } from "./layout";
import { MetadataEditor, MetadataList, type MetadataRow, type RowsError } from "./metadata-editor";
import { CardSection, PageHead, Submit } from "./parts";

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
  const type = account.type === "service" ? "Service account" : "User";
  const credentialsHref = withQuery("/console/credentials", { account_id: account.id });
  return (
    <Layout title={account.name} section="accounts" actor={actor} focus={flash ? "heading" : undefined}>
      <PageHead back={{ href: "/console/accounts", label: "Accounts" }} heading={<Name>{account.name}</Name>} lead={type}>
        <a class="button" href={`/console/accounts/${account.id}/${verb.toLowerCase()}`}>
          {verb}
        </a>
        <a class="button danger" href={`/console/accounts/${account.id}/delete`}>
          Delete
        </a>
      </PageHead>
      {flash ? <Notice kind="ok">{flash}</Notice> : null}
      {account.status === "deactivated" ? <Notice kind="warn">This account is deactivated: none of its credentials works until it is activated again.</Notice> : null}
      <dl class="fields card">
        <AccountFields account={account} />
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
        <CardSection id="edit" heading="Name and metadata">
          <p class="hint">
            Both can be copied into tokens: an API whose token claims name <code>account.name</code> or <code>account.metadata.&lt;name&gt;</code> carries the new values in
            tokens minted after you save.
          </p>
          <form method="post" action={`/console/accounts/${account.id}`} class="stack">
            <AccountNameField value={name} error={error?.field === "name" ? error.message : undefined} />
            <MetadataEditor rows={metadataRows} error={error?.field === "metadata" ? error.rows : undefined} />
            <Submit>Save account</Submit>
          </form>
        </CardSection>
      </Writable>
    </Layout>
  );
};
