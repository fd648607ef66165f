import type { FC } from "hono/jsx";
import type { Account } from "../services/accounts";
import type { Api } from "../services/apis";
import type { AuditEvent } from "../services/audit";
import type { Credential, CredentialWithSecret } from "../services/credentials";
import type { Handoff } from "../services/handoff";
import type { TwoWayPage } from "../services/search";
import type { DailyUsage, UsageBucket } from "../services/usage-reports";
import { type AccessError, GrantFields, type GrantSelection, isDefaultApi } from "./apis";
import { HandoffKit } from "./handoff";
import { ColumnHeads, CopyField, Field, Layout, Name, Notice, Pager, TrashIcon, When, withQuery } from "./layout";
import { AUTH_METHOD_LABEL, Expiry, JWT_BEARER_ASSERTION, KeyList, LeakBanner, isPrivateKeyJwt } from "./lifecycle";
import { QuietHint, Sparkline, UsageChart } from "./usage";

const TYPE_LABEL = { oauth_client: "OAuth 2.0 client", api_key: "API key" } as const;

export interface CredentialFilters {
  q: string | null;
  type: "oauth_client" | "api_key" | null;
  status: "active" | "deactivated" | null;
  account_id: string | null;
}

/** The list (with its filters and page) to return to, as a query string; "" for the plain list. */
export const listHref = (back: string) => (back ? `/console/credentials?${back}` : "/console/credentials");
const credentialHref = (id: string, back: string) => withQuery(`/console/credentials/${id}`, { back });

export const AccountStatusBadge: FC<{ status: Account["status"] }> = ({ status }) =>
  status === "active" ? <span class="badge ok">Active</span> : <span class="badge off">Deactivated</span>;

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
  const filtered = Boolean(filters.q || filters.type || filters.status);
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
        <a class="button primary" href={withQuery("/console/credentials/new", { account_id: accountFilter?.id })}>
          Create
        </a>
      </div>
      {flash ? <Notice kind="ok">{flash}</Notice> : null}
      {accountFilter && accountUsage ? <UsageChart id="account-usage" buckets={accountUsage} heading="Usage of this account, last 7 days" /> : null}
      <form method="get" action="/console/credentials" class="filters" role="search" aria-label="Find credentials">
        {accountFilter ? <input type="hidden" name="account_id" value={accountFilter.id} /> : null}
        <div class="search">
          <label for="q">Search</label>
          <input id="q" name="q" type="search" value={filters.q ?? ""} dir="auto" autocomplete="off" aria-describedby="q-hint" />
          <div class="hint" id="q-hint">Name, client ID, credential ID or the secret's last 4 characters</div>
        </div>
        <div>
          <label for="type">Type</label>
          <select id="type" name="type">
            <option value="">Any type</option>
            <option value="oauth_client" selected={filters.type === "oauth_client"}>OAuth 2.0 client</option>
            <option value="api_key" selected={filters.type === "api_key"}>API key</option>
          </select>
        </div>
        <div>
          <label for="status">Account status</label>
          <select id="status" name="status">
            <option value="">Any status</option>
            <option value="active" selected={filters.status === "active"}>Active</option>
            <option value="deactivated" selected={filters.status === "deactivated"}>Deactivated</option>
          </select>
        </div>
        <button type="submit">Filter</button>
        {filtered ? (
          <a class="button" href={withQuery("/console/credentials", { account_id: accountFilter?.id })}>
            Clear
          </a>
        ) : null}
      </form>
      <table class="cards">
        <ColumnHeads columns={["Name", "Type", "Account", "Secret ends in", "Created (UTC)", "Last used (UTC)", "Last 7 days", "Expires (UTC)"]} />
        <tbody>
          {page.data.length === 0 ? (
            <tr>
              <td colspan={9} class="empty">
                {filtered || page.newer ? "No credentials match." : "No credentials yet. Create one to let an integration in."}
              </td>
            </tr>
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
                    <a class="icon" href={withQuery(`/console/credentials/${credential.id}/delete`, { back })} aria-label={`Delete ${credential.name}`} title="Delete">
                      <TrashIcon />
                    </a>
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

export interface NewCredentialValues {
  name: string;
  type: "oauth_client" | "api_key";
  account_id: string;
  account_q: string;
  /** OAuth clients: how they authenticate at the token endpoint. */
  token_endpoint_auth_method: "client_secret_basic" | "private_key_jwt";
  /** The pasted JWK Set, as typed (private_key_jwt). */
  jwks: string;
  dpop_bound_access_tokens: boolean;
  /** As typed in the datetime-local field (UTC); empty: never. */
  expires_at: string;
}

export interface FormError {
  field: "name" | "type" | "account_id" | "token_endpoint_auth_method" | "jwks" | "dpop_bound_access_tokens" | "expires_at" | "form";
  message: string;
}

/** aria-invalid and a pointer to the message, for the field the error is about. */
const invalid = (error: FormError | undefined, field: FormError["field"]) =>
  error?.field === field ? { "aria-invalid": "true", "aria-describedby": `${field}-error`, autofocus: true } : {};

/** The message under a field, when the error is about it. */
const FieldError: FC<{ error: { field: string; message: string } | undefined; field: string }> = ({ error, field }) =>
  error?.field === field ? (
    <div class="field-error" id={`${field}-error`}>
      {error.message}
    </div>
  ) : null;

export const NewCredentialPage: FC<{
  actor: string;
  accounts: Account[];
  apis: Api[];
  nonce: string;
  values: NewCredentialValues;
  selection: GrantSelection;
  maxLifetimeDays: number | null;
  error?: FormError | undefined;
  accessError?: AccessError | undefined;
}> = ({ actor, accounts, apis, nonce, values, selection, maxLifetimeDays, error, accessError }) => {
  const chosen = accounts.find((account) => account.id === values.account_id);
  const problem = error ?? accessError;
  return (
    <Layout title="Create credential" section="credentials" actor={actor}>
      <h1>Create credential</h1>
      <p class="lead">The secret is shown once, right after you create it. Keymint keeps only its hash.</p>
      {problem ? (
        <Notice kind="error" id="form-error">
          {problem.message}
        </Notice>
      ) : null}
      <form method="post" action="/console/credentials" class="stack card">
        <input type="hidden" name="nonce" value={nonce} />
        <div>
          <label for="name">Credential Name</label>
          <input id="name" name="name" type="text" required maxlength={100} autocomplete="off" dir="auto" value={values.name} {...invalid(error, "name")} />
          {error?.field === "name" ? (
            <div class="field-error" id="name-error">
              {error.message}
            </div>
          ) : null}
        </div>
        <fieldset>
          <legend>Credential Type</legend>
          <label>
            <input type="radio" name="type" value="oauth_client" checked={values.type === "oauth_client"} /> OAuth 2.0 w/ Client Credentials (Recommended)
          </label>
          <div class="hint">Trade the client ID and secret for 60-second access tokens at the token endpoint.</div>
          <label>
            <input type="radio" name="type" value="api_key" checked={values.type === "api_key"} /> API Key
          </label>
          <div class="hint">A single long-lived key, checked at /v1/test-auth.</div>
        </fieldset>
        <div>
          <label for="account_q">Find an account</label>
          <div class="secret">
            <input id="account_q" name="account_q" type="search" value={values.account_q} dir="auto" autocomplete="off" aria-describedby="account_q-hint" />
            <button type="submit" formmethod="get" formaction="/console/credentials/new" formnovalidate>
              Find
            </button>
          </div>
          <div class="hint" id="account_q-hint">
            Searches every account by name or ID; the list below shows {values.account_q ? "the matches" : "the newest"} (up to 100).
          </div>
        </div>
        <div>
          <label for="account_id">Account</label>
          <select id="account_id" name="account_id" required {...invalid(error, "account_id")}>
            <option value="" selected={!chosen}>
              Choose an account…
            </option>
            {accounts.map((account) => (
              <option value={account.id} selected={account.id === chosen?.id} disabled={account.status === "deactivated"}>
                {account.name} ({account.type === "service" ? "service account" : "user"}
                {account.status === "deactivated" ? ", deactivated" : ""})
              </option>
            ))}
          </select>
          {error?.field === "account_id" ? (
            <div class="field-error" id="account_id-error">
              {error.message}
            </div>
          ) : null}
          <div class="hint">
            Prefer a service account: it is a stable identity that does not leave with a person. Deactivated accounts cannot get new credentials.
            {accounts.length === 0 ? (
              <>
                {" "}
                No account matches. <a href="/console/accounts">Create a service account</a> first.
              </>
            ) : null}
          </div>
        </div>
        <fieldset>
          <legend>Client authentication (OAuth 2.0 clients)</legend>
          <label>
            <input
              type="radio"
              name="token_endpoint_auth_method"
              value="client_secret_basic"
              checked={values.token_endpoint_auth_method === "client_secret_basic"}
              {...invalid(error, "token_endpoint_auth_method")}
            />{" "}
            Client secret (Recommended)
          </label>
          <div class="hint">Keymint generates a secret and shows it once.</div>
          <label>
            <input type="radio" name="token_endpoint_auth_method" value="private_key_jwt" checked={values.token_endpoint_auth_method === "private_key_jwt"} /> Private key
            JWT
          </label>
          <div class="hint">The client signs a short JWT with its own private key; Keymint keeps only the public keys, so there is no secret to leak.</div>
          <FieldError error={error} field="token_endpoint_auth_method" />
        </fieldset>
        <JwksField value={values.jwks} error={error?.field === "jwks" ? error.message : undefined} required={false} />
        <div>
          <label class="check">
            <input type="checkbox" name="dpop_bound_access_tokens" value="true" checked={values.dpop_bound_access_tokens} {...invalid(error, "dpop_bound_access_tokens")} />{" "}
            Require DPoP-bound tokens
          </label>
          <div class="hint">OAuth 2.0 clients: every token request must carry a DPoP proof (RFC 9449), so a copied token is useless without the client's key.</div>
          <FieldError error={error} field="dpop_bound_access_tokens" />
        </div>
        <ExpiresAtField value={values.expires_at} maxLifetimeDays={maxLifetimeDays} error={error?.field === "expires_at" ? error.message : undefined} />
        <section class="stack" aria-labelledby="access-heading">
          <h2 id="access-heading">APIs and scopes</h2>
          <GrantFields apis={apis} selection={selection} error={accessError} />
        </section>
        <div class="confirm-actions">
          <a class="button" href="/console/credentials">
            Cancel
          </a>
          <button type="submit" class="primary">
            Create credential
          </button>
        </div>
      </form>
    </Layout>
  );
};

/** The JWK Set textarea: checked in the page (console.js) and on the server. */
export const JwksField: FC<{ value: string; error?: string | undefined; required: boolean; label?: string }> = ({ value, error, required, label }) => (
  <div>
    <label for="jwks">{label ?? "JWK Set (public keys, for private key JWT)"}</label>
    <textarea
      id="jwks"
      name="jwks"
      class="mono"
      rows={8}
      spellcheck={false}
      autocomplete="off"
      dir="ltr"
      required={required}
      data-jwks
      aria-describedby={error ? "jwks-error jwks-hint" : "jwks-hint"}
      {...(error ? { "aria-invalid": "true", autofocus: true } : {})}
    >
      {value}
    </textarea>
    <div class="hint" id="jwks-hint">
      Paste <code>{'{"keys": [...]}'}</code> with 1 to 5 public keys (EC P-256, RSA of 2048 bits or more, or Ed25519), each with its own <code>kid</code>. Never
      paste a private key.
    </div>
    <div class="field-error" id="jwks-error">
      {error ?? ""}
    </div>
  </div>
);

/** The expiry field: a date and time in UTC, empty for never (unless a policy requires one). */
export const ExpiresAtField: FC<{ value: string; maxLifetimeDays: number | null; error?: string | undefined }> = ({ value, maxLifetimeDays, error }) => (
  <div>
    <label for="expires_at">Expires at (UTC)</label>
    <input
      id="expires_at"
      name="expires_at"
      type="datetime-local"
      step={1}
      value={value}
      aria-describedby={error ? "expires_at-error expires_at-hint" : "expires_at-hint"}
      {...(error ? { "aria-invalid": "true", autofocus: true } : {})}
    />
    <div class="hint" id="expires_at-hint">
      {maxLifetimeDays === null
        ? "Leave empty for a credential that works until it is deleted. After this moment it authenticates nowhere."
        : `Required here: at most ${maxLifetimeDays} days from now. After this moment it authenticates nowhere.`}
    </div>
    {error ? (
      <div class="field-error" id="expires_at-error">
        {error}
      </div>
    ) : null}
  </div>
);

/** The shown-once page: the response to the create (or roll) POST, never stored or cached. */
export const SecretShownOncePage: FC<{ actor: string; credential: CredentialWithSecret; urls: Handoff; rolled?: boolean }> = ({ actor, credential, urls, rolled }) => {
  const secret = "client_secret" in credential ? credential.client_secret : credential.api_key;
  return (
    <Layout title="Copy your secret" section="credentials" actor={actor} focus="heading">
      <h1>
        {rolled ? (
          <>
            New secret for <Name>{credential.name}</Name>
          </>
        ) : (
          <>
            <Name>{credential.name}</Name> is ready
          </>
        )}
      </h1>
      <Notice kind="warn">
        <strong>Copy the secret now. This is the only time it is shown.</strong> Keymint stores only its hash, so it cannot show it again; if it is
        lost, roll the secret or create a new credential.
      </Notice>
      <div class="card">
        {"client_secret" in credential ? (
          <>
            <CopyField id="client_id" label="Client ID" value={credential.client_id ?? ""} />
            <CopyField id="client_secret" label="Client Secret" value={credential.client_secret ?? ""} />
          </>
        ) : (
          <CopyField id="api_key" label="API Key" value={credential.api_key ?? ""} />
        )}
        {rolled && credential.previous_secret_expires_at ? (
          <p class="hint">
            The previous secret keeps working until <When at={credential.previous_secret_expires_at} /> UTC.
          </p>
        ) : null}
        <form method="post" action={`/console/credentials/${credential.id}/test`} target="_blank" data-inline-result="test-result">
          <input type="hidden" name="secret" value={secret} />
          <button type="submit">Test now</button>{" "}
          <span class="hint">
            {credential.type === "oauth_client"
              ? "Gets a token with this secret, here on the server, and shows its claims."
              : "Checks the key as an API would, here on the server."}{" "}
            The secret is not stored.
          </span>
        </form>
        <div id="test-result" aria-live="polite"></div>
      </div>
      <HandoffKit credential={credential} urls={urls} secret={secret} idPrefix="kit" />
      <ReadyActions id={credential.id} />
    </Layout>
  );
};

/**
 * The page after creating a private_key_jwt client: there is no secret to show (the client holds
 * its private key), only its client ID and how it signs in.
 */
export const PrivateKeyClientReadyPage: FC<{ actor: string; credential: Credential; urls: Handoff }> = ({ actor, credential, urls }) => (
  <Layout title="Client created" section="credentials" actor={actor} focus="heading">
    <h1>
      <Name>{credential.name}</Name> is ready
    </h1>
    <Notice kind="ok">
      <strong>There is no secret to copy.</strong> This client authenticates with a private key JWT: it signs assertions with its private key, and Keymint
      checks them against the {credential.jwks?.keys.length ?? 0} public key{credential.jwks?.keys.length === 1 ? "" : "s"} you registered. Keep the
      private key with the integration only.
    </Notice>
    <div class="card">
      <CopyField id="client_id" label="Client ID" value={credential.client_id ?? ""} />
      <p class="hint">
        At the token endpoint it sends <code>client_assertion_type={JWT_BEARER_ASSERTION}</code> and <code>client_assertion</code>, a JWT with{" "}
        <code>aud</code> = the issuer, <span class="mono">{urls.issuer}</span>.
      </p>
      <dl class="fields">
        <Field label="Keys">
          <KeyList jwks={credential.jwks} />
        </Field>
        <Field label="DPoP">{credential.dpop_bound_access_tokens ? "Required: its tokens are DPoP-bound" : "Not required"}</Field>
        <Field label="Expires (UTC)">
          <Expiry expiresAt={credential.expires_at} never="Never" />
        </Field>
      </dl>
    </div>
    <HandoffKit credential={credential} urls={urls} idPrefix="kit" />
    <ReadyActions id={credential.id} />
  </Layout>
);

/** The way out of a page that shows a new credential: to its page, or back to the list. */
const ReadyActions: FC<{ id: string }> = ({ id }) => (
  <div class="confirm-actions">
    <a class="button" href={`/console/credentials/${id}`}>
      Open the credential
    </a>
    <a class="button primary" href="/console/credentials">
      Done
    </a>
  </div>
);

export const AlreadyShownPage: FC<{ actor: string; rolled?: boolean }> = ({ actor, rolled }) => (
  <Layout title="Secret already shown" section="credentials" actor={actor}>
    <h1>This secret was already shown</h1>
    <Notice kind="warn">
      The {rolled ? "secret was rolled" : "credential was created"} when the form was first sent, and its {rolled ? "new " : ""}secret was shown
      then, once. It cannot be shown again. If it was not copied, roll the secret or delete the credential and create a new one.
    </Notice>
    <a class="button" href="/console/credentials">
      Back to credentials
    </a>
  </Layout>
);

/** What the confirmation pages show about the credential they act on. */
const Summary: FC<{ credential: Credential; account: Account | null }> = ({ credential, account }) => (
  <dl class="fields card">
    <Field label="Name">
      <Name>{credential.name}</Name>
    </Field>
    <Field label="Type">{TYPE_LABEL[credential.type]}</Field>
    {credential.client_id ? (
      <Field label="Client ID">
        <span class="mono">{credential.client_id}</span>
      </Field>
    ) : null}
    {isPrivateKeyJwt(credential) ? (
      <Field label="Client authentication">{AUTH_METHOD_LABEL.private_key_jwt}</Field>
    ) : (
      <Field label="Secret ends in">
        <span class="mono">…{credential.hint}</span>
      </Field>
    )}
    <Field label="Account">
      {account ? (
        <>
          <Name>{account.name}</Name> <AccountStatusBadge status={account.status} />
        </>
      ) : (
        <span class="mono">{credential.account_id}</span>
      )}
    </Field>
    <Field label="Last used (UTC)">
      <When at={credential.last_used_at} />
    </Field>
    {credential.previous_secret_expires_at ? (
      <Field label="Previous secret works until (UTC)">
        <When at={credential.previous_secret_expires_at} />
      </Field>
    ) : null}
  </dl>
);

/** The expiry, allowlist and DPoP form of a credential page, as typed. */
export interface SettingsValues {
  expires_at: string;
  allowed_ips: string;
  dpop_bound_access_tokens: boolean;
}

export interface SettingsError {
  field: "expires_at" | "allowed_ips" | "dpop_bound_access_tokens";
  message: string;
}

export const CredentialPage: FC<{
  actor: string;
  credential: Credential;
  account: Account | null;
  events: AuditEvent[];
  moreEvents: boolean;
  urls: Handoff;
  back: string;
  apis: Api[];
  selection: GrantSelection;
  maxLifetimeDays: number | null;
  settings: SettingsValues;
  settingsError?: SettingsError | undefined;
  jwks: string;
  jwksError?: string | undefined;
  accessError?: AccessError | undefined;
  /** Hourly, over the last 7 days. */
  usage: UsageBucket[];
  flash?: string | undefined;
}> = ({ actor, credential, account, events, moreEvents, urls, back, apis, selection, maxLifetimeDays, settings, settingsError, jwks, jwksError, accessError, usage, flash }) => (
  <Layout title={credential.name} section="credentials" actor={actor} focus={flash ? "heading" : undefined}>
    <p>
      <a href={listHref(back)}>← Credentials</a>
    </p>
    <div class="page-head">
      <div>
        <h1>
          <Name>{credential.name}</Name>
        </h1>
        <p class="lead">{TYPE_LABEL[credential.type]}</p>
      </div>
      <div class="confirm-actions">
        {isPrivateKeyJwt(credential) ? null : (
          <a class="button" href={withQuery(`/console/credentials/${credential.id}/roll`, { back })}>
            Roll secret
          </a>
        )}
        {credential.previous_secret_expires_at ? (
          <a class="button" href={withQuery(`/console/credentials/${credential.id}/end-grace`, { back })}>
            End grace now
          </a>
        ) : null}
        <a class="button danger" href={withQuery(`/console/credentials/${credential.id}/delete`, { back })}>
          Delete
        </a>
      </div>
    </div>
    {flash ? <Notice kind="ok">{flash}</Notice> : null}
    <LeakBanner credential={credential} back={back} />
    {credential.expires_at !== null && Date.parse(credential.expires_at) <= Date.now() ? (
      <Notice kind="warn">This credential has expired: it authenticates nowhere. Set a later expiry below to bring it back, or delete it.</Notice>
    ) : null}
    {account?.status === "deactivated" ? (
      <Notice kind="warn">Its account is deactivated, so this credential works nowhere until the account is activated again.</Notice>
    ) : null}
    <dl class="fields card">
      <Field label="Credential ID">
        <span class="mono">{credential.id}</span>
      </Field>
      <Field label="Account">
        {account ? (
          <>
            <a href={withQuery("/console/credentials", { account_id: account.id })}>
              <Name>{account.name}</Name>
            </a>{" "}
            <AccountStatusBadge status={account.status} /> <span class="hint mono">{account.id}</span>
          </>
        ) : (
          <span class="mono">{credential.account_id}</span>
        )}
      </Field>
      {credential.client_id ? (
        <Field label="Client ID">
          <span class="mono">{credential.client_id}</span>
        </Field>
      ) : null}
      {credential.type === "oauth_client" ? (
        <Field label="Client authentication">
          {isPrivateKeyJwt(credential) ? (
            <>
              {AUTH_METHOD_LABEL.private_key_jwt} <span class="hint mono">private_key_jwt</span>
              <div class="hint">No secret: it signs assertions with its private key.</div>
            </>
          ) : (
            <>
              {AUTH_METHOD_LABEL.client_secret_basic} <span class="hint mono">client_secret_basic</span>
            </>
          )}
        </Field>
      ) : null}
      {isPrivateKeyJwt(credential) ? (
        <Field label="Public keys">
          <KeyList jwks={credential.jwks} />
        </Field>
      ) : (
        <Field label="Secret ends in">
          <span class="mono">…{credential.hint}</span>
          {credential.leaked_at ? (
            <>
              {" "}
              <span class="badge off">Reported leaked</span>
            </>
          ) : null}
        </Field>
      )}
      {credential.type === "oauth_client" ? (
        <Field label="DPoP">
          {credential.dpop_bound_access_tokens ? (
            <>
              <span class="badge ok">Required</span> <span class="hint">its tokens must be DPoP-bound</span>
            </>
          ) : (
            <span class="hint">Not required: Bearer tokens, or DPoP-bound when the client sends a proof</span>
          )}
        </Field>
      ) : null}
      <Field label="Scopes">{credential.scopes.length ? <span class="mono">{credential.scopes.join(" ")}</span> : <span class="hint">None</span>}</Field>
      <Field label="Other APIs">
        {credential.grants.length === 0 ? (
          <span class="hint">None: its tokens are for the default API only</span>
        ) : (
          <ul class="plain">
            {credential.grants.map((grant) => {
              const api = apis.find((candidate) => !isDefaultApi(candidate) && candidate.identifier === grant.api);
              return (
                <li>
                  {api ? <Name>{api.name}</Name> : null} <span class="mono">{grant.api}</span>:{" "}
                  {grant.scopes.length ? <span class="mono">{grant.scopes.join(" ")}</span> : <span class="hint">no scope</span>}
                </li>
              );
            })}
          </ul>
        )}
      </Field>
      <Field label="Created (UTC)">
        <When at={credential.created_at} />
      </Field>
      <Field label="Last used (UTC)">
        <When at={credential.last_used_at} />
        <QuietHint credential={credential} />
      </Field>
      <Field label="Expires (UTC)">
        <Expiry expiresAt={credential.expires_at} never="Never: it works until it is deleted" />
      </Field>
      <Field label="IP allowlist">
        {credential.allowed_ips === null ? (
          <span class="hint">Anywhere: no allowlist</span>
        ) : (
          <ul class="plain">
            {credential.allowed_ips.map((cidr) => (
              <li class="mono">{cidr}</li>
            ))}
          </ul>
        )}
      </Field>
      {isPrivateKeyJwt(credential) ? null : (
        <Field label="Previous secret">
          {credential.previous_secret_expires_at ? (
            <>
              Still works until <When at={credential.previous_secret_expires_at} /> UTC (grace after a roll)
              <div class="hint" id="previous-secret-use">
                {credential.previous_secret_last_used_at ? (
                  <>
                    Last used <When at={credential.previous_secret_last_used_at} /> UTC. When it has gone quiet, every client has the new secret and the grace can end.
                  </>
                ) : (
                  "No use of it recorded since the roll. Uses show here within a minute; once none come, the grace can end."
                )}
              </div>
            </>
          ) : (
            <span class="hint">None: only the current secret works</span>
          )}
        </Field>
      )}
    </dl>
    <UsageChart id="usage" buckets={usage} heading="Usage, last 7 days" />
    <section class="card" aria-labelledby="settings-heading">
      <h2 id="settings-heading">Expiry and restrictions</h2>
      <p class="hint">Changes apply at once: an earlier expiry, a new allowlist or requiring DPoP take effect for the next request.</p>
      <form method="post" action={`/console/credentials/${credential.id}/settings`} class="stack">
        <input type="hidden" name="back" value={back} />
        <ExpiresAtField value={settings.expires_at} maxLifetimeDays={maxLifetimeDays} error={settingsError?.field === "expires_at" ? settingsError.message : undefined} />
        <div>
          <label for="allowed_ips">IP allowlist</label>
          <textarea
            id="allowed_ips"
            name="allowed_ips"
            class="mono"
            rows={4}
            spellcheck={false}
            autocomplete="off"
            dir="ltr"
            aria-describedby={settingsError?.field === "allowed_ips" ? "allowed_ips-error allowed_ips-hint" : "allowed_ips-hint"}
            {...(settingsError?.field === "allowed_ips" ? { "aria-invalid": "true", autofocus: true } : {})}
          >
            {settings.allowed_ips}
          </textarea>
          <div class="hint" id="allowed_ips-hint">
            One IPv4 or IPv6 CIDR per line, at most 32 (for example <code>203.0.113.0/24</code> or <code>2001:db8::/32</code>). Empty: it works from
            anywhere. From any other address its secret fails as if it were wrong.
          </div>
          <FieldError error={settingsError} field="allowed_ips" />
        </div>
        {credential.type === "oauth_client" ? (
          <div>
            <label class="check">
              <input type="checkbox" name="dpop_bound_access_tokens" value="true" checked={settings.dpop_bound_access_tokens} /> Require DPoP-bound tokens
            </label>
            <div class="hint">Every token request must carry a DPoP proof (RFC 9449); requests without one are refused.</div>
          </div>
        ) : null}
        <div>
          <button type="submit" class="primary">
            Save expiry and restrictions
          </button>
        </div>
      </form>
    </section>
    {isPrivateKeyJwt(credential) ? (
      <section class="card" aria-labelledby="keys-heading">
        <h2 id="keys-heading">Public keys</h2>
        <p class="hint">
          Rotate by replacing the set: add the new key, move the client to it, then remove the old one. A key removed here stops working at once.
        </p>
        <form method="post" action={`/console/credentials/${credential.id}/jwks`} class="stack">
          <input type="hidden" name="back" value={back} />
          <JwksField value={jwks} error={jwksError} required label="JWK Set" />
          <div>
            <button type="submit" class="primary">
              Replace keys
            </button>
          </div>
        </form>
      </section>
    ) : null}
    <section class="card" aria-labelledby="access-heading">
      <h2 id="access-heading">APIs and scopes</h2>
      <p class="hint">
        A token is for one API: the client names it with <code>resource</code> at the token endpoint. Changes apply to tokens minted after you save.
      </p>
      {accessError ? (
        <Notice kind="error" id="form-error">
          {accessError.message}
        </Notice>
      ) : null}
      <form method="post" action={`/console/credentials/${credential.id}/access`} class="stack">
        <input type="hidden" name="back" value={back} />
        <GrantFields apis={apis} selection={selection} error={accessError} />
        <div>
          <button type="submit" class="primary">
            Save access
          </button>
        </div>
      </form>
    </section>
    <HandoffKit credential={credential} urls={urls} idPrefix="kit" />
    <section aria-labelledby="history-heading">
      <h2 id="history-heading">History</h2>
      <AuditTable events={events} caption={null} />
      {moreEvents ? (
        <p>
          <a href={withQuery("/console/audit", { target_id: credential.id })}>The whole history in the audit log</a>
        </p>
      ) : null}
    </section>
  </Layout>
);

/** Audit events as a table (the audit page and a credential's history). */
export const AuditTable: FC<{ events: AuditEvent[]; caption: string | null }> = ({ events, caption }) => (
  <table class="cards">
    {caption ? <caption class="sr-only">{caption}</caption> : null}
    <thead>
      <tr>
        <th scope="col">When (UTC)</th>
        <th scope="col">Who</th>
        <th scope="col">Action</th>
        <th scope="col">Target</th>
        <th scope="col">IP</th>
      </tr>
    </thead>
    <tbody>
      {events.length === 0 ? (
        <tr>
          <td colspan={5} class="empty">
            No events.
          </td>
        </tr>
      ) : (
        events.map((event) => (
          <tr>
            <td data-label="When (UTC)">
              <When at={event.at} />
            </td>
            <td data-label="Who">
              <span class="mono">
                <bdi>{event.actor}</bdi>
              </span>
              <div class="hint">via {event.channel === "api" ? "the API" : event.channel === "console" ? "the console" : "Keymint itself"}</div>
            </td>
            <td data-label="Action" class="mono">
              {event.action}
            </td>
            <td data-label="Target">
              {event.target_name !== null ? <Name>{event.target_name}</Name> : <span class="hint">(name not recorded)</span>}
              <div>
                <a class="mono" href={withQuery("/console/audit", { target_id: event.target_id })}>
                  {event.target_id}
                </a>
              </div>
            </td>
            <td data-label="IP" class="mono">
              {event.ip ?? ""}
            </td>
          </tr>
        ))
      )}
    </tbody>
  </table>
);

export const DeleteCredentialPage: FC<{ actor: string; credential: Credential; account: Account | null; back: string }> = ({
  actor,
  credential,
  account,
  back,
}) => (
  <Layout title={`Delete ${credential.name}`} section="credentials" actor={actor}>
    <h1>
      Delete <Name>{credential.name}</Name>?
    </h1>
    <Notice kind="error">
      Deletion is permanent. The {credential.type === "api_key" ? "API key" : isPrivateKeyJwt(credential) ? "client's keys" : "client secret"}
      {credential.previous_secret_expires_at ? " (and the previous one, still in its grace period)" : ""} {isPrivateKeyJwt(credential) ? "stop" : "stops"} working at once, and so does every
      access token it issued. This cannot be undone. Its audit history stays.
    </Notice>
    <Summary credential={credential} account={account} />
    <form method="post" action={`/console/credentials/${credential.id}/delete`} class="confirm-actions">
      <input type="hidden" name="back" value={back} />
      <a class="button" href={listHref(back)} data-cancel>
        Cancel
      </a>
      <button type="submit" class="danger">
        Delete permanently
      </button>
    </form>
  </Layout>
);

export const ROLL_GRACE_CHOICES = [
  { seconds: 0, label: "Stop the old secret now" },
  { seconds: 3600, label: "1 hour" },
  { seconds: 86_400, label: "24 hours" },
  { seconds: 604_800, label: "7 days" },
] as const;

export const RollCredentialPage: FC<{ actor: string; credential: Credential; account: Account | null; nonce: string; back: string }> = ({
  actor,
  credential,
  account,
  nonce,
  back,
}) => (
  <Layout title={`Roll secret of ${credential.name}`} section="credentials" actor={actor}>
    <h1>
      Roll secret of <Name>{credential.name}</Name>
    </h1>
    <p class="lead">
      A new secret replaces the current one{credential.client_id ? " (the client ID stays the same)" : ""}. The old one can keep working for a
      grace period while you update your integration.
    </p>
    {credential.previous_secret_expires_at ? (
      <Notice kind="warn">Only one previous secret is kept: rolling again ends the grace period of the one before at once.</Notice>
    ) : null}
    <Summary credential={credential} account={account} />
    <form method="post" action={`/console/credentials/${credential.id}/roll`} class="stack card">
      <input type="hidden" name="nonce" value={nonce} />
      <div>
        <label for="expires_in">Grace period for the old secret</label>
        <select id="expires_in" name="expires_in">
          {ROLL_GRACE_CHOICES.map((choice) => (
            <option value={String(choice.seconds)} selected={choice.seconds === 86_400}>
              {choice.label}
            </option>
          ))}
        </select>
      </div>
      <div class="confirm-actions">
        <a class="button" href={credentialHref(credential.id, back)} data-cancel>
          Cancel
        </a>
        <button type="submit" class="primary">
          Roll secret
        </button>
      </div>
    </form>
  </Layout>
);

export const EndGracePage: FC<{ actor: string; credential: Credential; account: Account | null; back: string }> = ({ actor, credential, account, back }) => (
  <Layout title={`End grace of ${credential.name}`} section="credentials" actor={actor}>
    <h1>
      Stop the previous secret of <Name>{credential.name}</Name> now?
    </h1>
    <Notice kind="warn">
      The secret that was replaced at the last roll stops working at once, instead of at the end of its grace period. Clients still using it
      will be refused. The current secret is not affected.
    </Notice>
    <Summary credential={credential} account={account} />
    <form method="post" action={`/console/credentials/${credential.id}/end-grace`} class="confirm-actions">
      <input type="hidden" name="back" value={back} />
      <a class="button" href={credentialHref(credential.id, back)} data-cancel>
        Cancel
      </a>
      <button type="submit" class="danger">
        End grace now
      </button>
    </form>
  </Layout>
);
