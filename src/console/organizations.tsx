import type { FC } from "hono/jsx";
import type { Organization } from "../services/organizations";
import type { UsageBucket } from "../services/usage-reports";
import { ColumnHeads, ConfirmForm, EmptyRow, Field, FilterButtons, Layout, Name, Notice, Pager, SearchField, StatusBadge, When, withQuery } from "./layout";
import { MetadataList, type MetadataRow, MetadataSection, type RowsError } from "./metadata-editor";
import { CardSection, Submit } from "./parts";
import { UsageChart } from "./usage";

/** The Organizations screen (platform admins): search, create, and each organization's page. */

export const OrganizationsPage: FC<{
  actor: string;
  organizations: Organization[];
  next: string | null;
  q: string | null;
  flash?: string | undefined;
  error?: string | undefined;
}> = ({ actor, organizations, next, q, flash, error }) => (
  <Layout title="Organizations" section="organizations" actor={actor} focus={flash || error ? "heading" : undefined}>
    <h1>Organizations</h1>
    <p class="lead">Each customer of your APIs is an organization: its accounts, credentials and console are its own. Deactivating one stops every credential in it.</p>
    {flash ? <Notice kind="ok">{flash}</Notice> : null}
    {error ? <Notice kind="error">{error}</Notice> : null}
    <form method="post" action="/console/organizations" class="card stack">
      <h2>Create organization</h2>
      <div>
        <label for="organization-name">Name</label>
        <input id="organization-name" name="name" type="text" required maxlength={100} autocomplete="off" />
      </div>
      <div>
        <label for="external-id">External ID (optional)</label>
        <input id="external-id" name="external_id" type="text" maxlength={255} autocomplete="off" aria-describedby="external-id-hint" />
        <div class="hint" id="external-id-hint">
          Your own id for this customer, to find it again from your systems.
        </div>
      </div>
      <Submit>Create organization</Submit>
    </form>
    <form method="get" action="/console/organizations" class="filters" role="search" aria-label="Find organizations">
      <SearchField value={q} hint="Name, or exact external ID" />
      <FilterButtons filtered={Boolean(q)} clearHref="/console/organizations" />
    </form>
    <table class="cards">
      <caption class="sr-only">Organizations</caption>
      <ColumnHeads columns={["Name", "External ID", "Status", "Created (UTC)"]} />
      <tbody>
        {organizations.length === 0 ? (
          <EmptyRow columns={5}>{q ? "No organizations match." : "No organizations yet."}</EmptyRow>
        ) : (
          organizations.map((organization) => (
            <tr>
              <th scope="row" data-label="Name">
                <a href={`/console/organizations/${organization.id}`}>
                  <Name>{organization.name}</Name>
                </a>
              </th>
              <td data-label="External ID" class="mono">
                {organization.external_id ?? "—"}
              </td>
              <td data-label="Status">
                <StatusBadge status={organization.status} />
              </td>
              <td data-label="Created (UTC)">
                <When at={organization.created_at} />
              </td>
              <td class="actions">
                <a class="button small" href={`/console/organizations/${organization.id}`} aria-label={`Open ${organization.name}`}>
                  Open
                </a>
              </td>
            </tr>
          ))
        )}
      </tbody>
    </table>
    <Pager path="/console/organizations" filters={{ q }} newer={null} older={next} />
  </Layout>
);

export const OrganizationPage: FC<{
  actor: string;
  organization: Organization;
  usage: UsageBucket[];
  metadataRows: MetadataRow[];
  metadataError?: RowsError | undefined;
  flash?: string | undefined;
}> = ({ actor, organization, usage, metadataRows, metadataError, flash }) => {
  const isDefault = organization.id === "org_default";
  const verb = organization.status === "active" ? "deactivate" : "activate";
  return (
    <Layout title={organization.name} section="organizations" actor={actor} focus={flash ? "heading" : undefined}>
      <p>
        <a href="/console/organizations">← Organizations</a>
      </p>
      <h1>
        <Name>{organization.name}</Name>
      </h1>
      {flash ? <Notice kind="ok">{flash}</Notice> : null}
      <dl class="card details">
        <Field label="Organization ID" mono>
          {organization.id}
        </Field>
        <Field label="External ID" mono>
          {organization.external_id ?? "None"}
        </Field>
        <Field label="Status">
          <StatusBadge status={organization.status} />
        </Field>
        <Field label="Grant ceiling">
          {organization.grants === null ? "None: its credentials may be given any grant" : organization.grants.map((grant) => `${grant.api}: ${grant.scopes.join(" ") || "no scopes"}`).join("; ") || "Only the default API"}
        </Field>
        <Field label="Created (UTC)">
          <When at={organization.created_at} />
        </Field>
        <Field label="Metadata">
          <MetadataList metadata={organization.metadata} />
        </Field>
      </dl>
      <p class="confirm-actions">
        <a class="button" href={withQuery("/console/accounts", { organization_id: organization.id })}>
          Its accounts
        </a>
        <a class="button" href={withQuery("/console/credentials", { organization_id: organization.id })}>
          Its credentials
        </a>
        <a class="button" href={withQuery("/console/audit", { organization_id: organization.id })}>
          Its audit log
        </a>
      </p>
      <UsageChart id="usage" buckets={usage} heading="Usage, last 7 days" />
      <MetadataSection action={`/console/organizations/${organization.id}/metadata`} rows={metadataRows} error={metadataError}>
        Your own facts about this customer. An API whose token claims name <code>organization.metadata.&lt;name&gt;</code> copies them into the tokens of every credential
        in it minted after you save.
      </MetadataSection>
      {isDefault ? null : (
        <CardSection id="status" heading={verb === "deactivate" ? "Deactivate" : "Activate"}>
          <p>
            {verb === "deactivate"
              ? "Every credential of every account in it stops working, and so does every access token they issued, and its console closes. You can activate it again; tokens issued before stay revoked."
              : "Its credentials work again. Access tokens issued before it was deactivated stay revoked."}
          </p>
          <ConfirmForm action={`/console/organizations/${organization.id}/${verb}`} cancelHref="/console/organizations" kind={verb === "activate" ? "primary" : "danger"}>
            {verb === "deactivate" ? "Deactivate organization" : "Activate organization"}
          </ConfirmForm>
        </CardSection>
      )}
    </Layout>
  );
};
