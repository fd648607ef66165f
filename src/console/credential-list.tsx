import type { FC } from "hono/jsx";
import type { Account } from "../services/accounts";
import type { Credential } from "../services/credentials";
import type { TwoWayPage } from "../services/search";
import type { DailyUsage, UsageBucket } from "../services/usage-reports";
import { ColumnHeads, EmptyRow, FilterButtons, Layout, Name, Notice, OrganizationFilter, Pager, SearchField, TrashIcon, When, withQuery, Writable } from "./layout";
import { AccountStatusFilter } from "./accounts";
import { Expiry, isPrivateKeyJwt } from "./lifecycle";
import { QuietHint, Sparkline, UsageChart } from "./usage";

/**
 * The Credentials screen: search, filters, a page of credentials with their sparklines, and the
 * links every credential screen shares (back to the list, to a credential's page).
 */

/** What each type is called on the pages. */
export const TYPE_LABEL = { oauth_client: "OAuth 2.0 client", api_key: "API key" } as const;

export interface CredentialFilters {
  q: string | null;
  type: "oauth_client" | "api_key" | null;
  status: "active" | "deactivated" | null;
  account_id: string | null;
  organization_id: string | null;
}

/** The list (with its filters and page) to return to, as a query string; "" for the plain list. */
export const listHref = (back: string) => (back ? `/console/credentials?${back}` : "/console/credentials");
/** A credential's page, remembering the list to return to. */
export const credentialHref = (id: string, back: string) => withQuery(`/console/credentials/${id}`, { back });

export const CredentialsPage: FC<{
  actor: string;
  page: TwoWayPage<Credential>;
  accounts: Map<string, Pick<Account, "name" | "status">>;
  filters: CredentialFilters;
  accountFilter: Account | null;
  back: string;
  /** Per credential of the page: its last 7 days, for the sparklines. */
  usage: Map<string, DailyUsage>;
  /** With an account filter: that account's usage, hourly over the last 7 days. */
  accountUsage: UsageBucket[] | null;
  flash?: string | undefined;
}> = ({ actor, page, accounts, filters, accountFilter, back, usage, accountUsage, flash }) => {
  const filtered = Boolean(filters.q || filters.type || filters.status || filters.organization_id);
  const now = Date.now();
  return (
    <Layout title="Credentials" section="credentials" actor={actor} focus={flash ? "heading" : undefined}>
      <div class="page-head">
        <div>
          <h1>Credentials</h1>
          <p class="lead">
            {accountFilter ? (
              <>
                Credentials of <Name>{accountFilter.name}</Name>. <a href="/console/credentials">Show all</a>
              </>
            ) : (
              "OAuth clients and API keys that let integrations call your APIs."
            )}
          </p>
        </div>
        <Writable>
          <a class="button primary" href={withQuery("/console/credentials/new", { account_id: accountFilter?.id })}>
            Create
          </a>
        </Writable>
      </div>
      {flash ? <Notice kind="ok">{flash}</Notice> : null}
      {accountFilter && accountUsage ? <UsageChart id="account-usage" buckets={accountUsage} heading="Usage of this account, last 7 days" /> : null}
      <form method="get" action="/console/credentials" class="filters" role="search" aria-label="Find credentials">
        {accountFilter ? <input type="hidden" name="account_id" value={accountFilter.id} /> : null}
        <SearchField value={filters.q} hint="Name, client ID, credential ID or the secret's last 4 characters" />
        <div>
          <label for="type">Type</label>
          <select id="type" name="type">
            <option value="">Any type</option>
            <option value="oauth_client" selected={filters.type === "oauth_client"}>OAuth 2.0 client</option>
            <option value="api_key" selected={filters.type === "api_key"}>API key</option>
          </select>
        </div>
        <AccountStatusFilter label="Account status" value={filters.status} />
        <OrganizationFilter value={filters.organization_id} />
        <FilterButtons filtered={filtered} clearHref={withQuery("/console/credentials", { account_id: accountFilter?.id })} />
      </form>
      <table class="cards">
        <ColumnHeads columns={["Name", "Type", "Account", "Secret ends in", "Created (UTC)", "Last used (UTC)", "Last 7 days", "Expires (UTC)"]} />
        <tbody>
          {page.data.length === 0 ? (
            <EmptyRow columns={9}>{filtered || page.newer ? "No credentials match." : "No credentials yet. Create one to let an integration in."}</EmptyRow>
          ) : (
            page.data.map((credential) => {
              const account = accounts.get(credential.account_id);
              return (
                <tr>
                  <td data-label="Name">
                    <a href={credentialHref(credential.id, back)}>
                      <Name>{credential.name}</Name>
                    </a>
                    {credential.client_id ? <div class="hint mono">{credential.client_id}</div> : null}
                    <div class="hint mono">{credential.id}</div>
                  </td>
                  <td data-label="Type">{TYPE_LABEL[credential.type]}</td>
                  <td data-label="Account">
                    <Name>{account?.name ?? credential.account_id}</Name>
                    {account?.status === "deactivated" ? (
                      <>
                        {" "}
                        <span class="badge off">Deactivated</span>
                      </>
                    ) : null}
                  </td>
                  <td data-label="Secret ends in" class="mono nowrap">
                    {isPrivateKeyJwt(credential) ? <span class="hint">No secret: private key JWT</span> : <>…{credential.hint}</>}
                    {credential.leaked_at ? (
                      <div>
                        <span class="badge off">Reported leaked</span>
                      </div>
                    ) : null}
                    {credential.previous_secret_expires_at ? (
                      <div>
                        <span class="badge warn">Old secret in grace</span>
                      </div>
                    ) : null}
                  </td>
                  <td data-label="Created (UTC)">
                    <When at={credential.created_at} />
                  </td>
                  <td data-label="Last used (UTC)">
                    <When at={credential.last_used_at} />
                    <QuietHint credential={credential} now={now} />
                  </td>
                  <td data-label="Last 7 days">
                    <Sparkline usage={usage.get(credential.id)} />
                  </td>
                  <td data-label="Expires (UTC)">
                    <Expiry expiresAt={credential.expires_at} now={now} />
                  </td>
                  <td class="actions">
                    <Writable>
                      <a class="icon" href={withQuery(`/console/credentials/${credential.id}/delete`, { back })} aria-label={`Delete ${credential.name}`} title="Delete">
                        <TrashIcon />
                      </a>
                    </Writable>
                  </td>
                </tr>
              );
            })
          )}
        </tbody>
      </table>
      <Pager path="/console/credentials" filters={{ ...filters }} newer={page.newer} older={page.older} />
    </Layout>
  );
};
