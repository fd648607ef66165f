import type { FC } from "hono/jsx";
import type { Account } from "../services/accounts";
import type { Credential, CredentialWithSecret } from "../services/credentials";
import { Layout, Notice, Pager, TrashIcon, When } from "./layout";

const TYPE_LABEL = { oauth_client: "OAuth 2.0 client", api_key: "API key" } as const;

export const CredentialsPage: FC<{
  actor: string;
  credentials: Credential[];
  accountNames: Map<string, string>;
  next: string | null;
  accountFilter: Account | null;
  flash?: string | undefined;
}> = ({ actor, credentials, accountNames, next, accountFilter, flash }) => (
  <Layout title="Credentials" section="credentials" actor={actor}>
    <div class="page-head">
      <div>
        <h1>Credentials</h1>
        <p class="lead">
          {accountFilter ? <>Credentials of {accountFilter.name}. <a href="/console/credentials">Show all</a></> : "OAuth clients and API keys that let integrations call your APIs."}
        </p>
      </div>
      <form method="get" action="/console/credentials/new">
        {accountFilter ? <input type="hidden" name="account_id" value={accountFilter.id} /> : null}
        <button type="submit" class="primary">Create</button>
      </form>
    </div>
    {flash ? <Notice kind="ok">{flash}</Notice> : null}
    <table>
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Type</th>
          <th scope="col">Account</th>
          <th scope="col">Hint</th>
          <th scope="col">Created (UTC)</th>
          <th scope="col">Last used (UTC)</th>
          <th scope="col"><span class="sr-only">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        {credentials.length === 0 ? (
          <tr>
            <td colspan={7} class="empty">No credentials yet. Create one to let an integration in.</td>
          </tr>
        ) : (
          credentials.map((credential) => (
            <tr>
              <td>
                {credential.name}
                {credential.client_id ? <div class="hint mono">{credential.client_id}</div> : null}
              </td>
              <td class="nowrap">{TYPE_LABEL[credential.type]}</td>
              <td>
                <a href={`/console/credentials?account_id=${encodeURIComponent(credential.account_id)}`}>
                  {accountNames.get(credential.account_id) ?? credential.account_id}
                </a>
              </td>
              <td class="mono nowrap">…{credential.hint}</td>
              <td><When at={credential.created_at} /></td>
              <td><When at={credential.last_used_at} /></td>
              <td class="actions">
                <form method="get" action={`/console/credentials/${credential.id}/roll`}>
                  <button type="submit" class="small" aria-label={`Roll secret of ${credential.name}`}>Roll secret</button>
                </form>{" "}
                <form method="get" action={`/console/credentials/${credential.id}/delete`}>
                  <button type="submit" class="icon" aria-label={`Delete ${credential.name}`} title="Delete">
                    <TrashIcon />
                  </button>
                </form>
              </td>
            </tr>
          ))
        )}
      </tbody>
    </table>
    <Pager next={next} base={accountFilter ? `/console/credentials?account_id=${encodeURIComponent(accountFilter.id)}` : "/console/credentials"} />
  </Layout>
);

export const NewCredentialPage: FC<{ actor: string; accounts: Account[]; nonce: string; selected?: string | undefined; error?: string | undefined }> = ({
  actor,
  accounts,
  nonce,
  selected,
  error,
}) => (
  <Layout title="Create credential" section="credentials" actor={actor}>
    <h1>Create credential</h1>
    <p class="lead">The secret is shown once, right after you create it. Keymint keeps only its hash.</p>
    {error ? <Notice kind="error">{error}</Notice> : null}
    {accounts.length === 0 ? (
      <Notice kind="warn">
        A credential belongs to an account. <a href="/console/accounts">Create a service account</a> first.
      </Notice>
    ) : (
      <form method="post" action="/console/credentials" class="stack card">
        <input type="hidden" name="nonce" value={nonce} />
        <div>
          <label for="name">Credential Name</label>
          <input id="name" name="name" type="text" required maxlength={100} autocomplete="off" />
        </div>
        <fieldset>
          <legend>Credential Type</legend>
          <label>
            <input type="radio" name="type" value="oauth_client" checked /> OAuth 2.0 w/ Client Credentials (Recommended)
          </label>
          <div class="hint">Trade the client ID and secret for 60-second access tokens at /oauth/token.</div>
          <label>
            <input type="radio" name="type" value="api_key" /> API Key
          </label>
          <div class="hint">A single long-lived key, checked at /v1/test-auth.</div>
        </fieldset>
        <div>
          <label for="account_id">Account</label>
          <select id="account_id" name="account_id" required>
            {accounts.map((account) => (
              <option value={account.id} selected={account.id === selected}>
                {account.name} ({account.type === "service" ? "service account" : "user"}
                {account.status === "deactivated" ? ", deactivated" : ""})
              </option>
            ))}
          </select>
          <div class="hint">Prefer a service account: it is a stable identity that does not leave with a person.</div>
        </div>
        <div>
          <button type="submit" class="primary">Create credential</button> <a class="button" href="/console/credentials">Cancel</a>
        </div>
      </form>
    )}
  </Layout>
);

const SecretField: FC<{ id: string; label: string; value: string }> = ({ id, label, value }) => (
  <div>
    <label for={id}>{label}</label>
    <div class="secret">
      <input id={id} type="text" readonly value={value} autocomplete="off" spellcheck={false} />
      <button type="button" data-copy={id} aria-label={`Copy ${label}`}>Copy</button>
    </div>
  </div>
);

/** The shown-once page: the response to the create (or roll) POST, never stored or cached. */
export const SecretShownOncePage: FC<{ actor: string; credential: CredentialWithSecret; rolled?: boolean }> = ({ actor, credential, rolled }) => (
  <Layout title="Copy your secret" section="credentials" actor={actor}>
    <h1>{rolled ? `New secret for ${credential.name}` : `${credential.name} is ready`}</h1>
    <Notice kind="warn">
      <strong>Copy the secret now. This is the only time it is shown.</strong> Keymint stores only its hash, so it cannot show it again;
      if it is lost, roll the secret or create a new credential.
    </Notice>
    <div class="card">
      {"client_secret" in credential ? (
        <>
          <SecretField id="client_id" label="Client ID" value={credential.client_id ?? ""} />
          <SecretField id="client_secret" label="Client Secret" value={credential.client_secret} />
        </>
      ) : (
        <SecretField id="api_key" label="API Key" value={credential.api_key} />
      )}
      {rolled && credential.previous_secret_expires_at ? (
        <p class="hint">
          The previous secret keeps working until <When at={credential.previous_secret_expires_at} />.
        </p>
      ) : null}
    </div>
    <a class="button primary" href="/console/credentials">Done</a>
  </Layout>
);

export const AlreadyShownPage: FC<{ actor: string; rolled?: boolean }> = ({ actor, rolled }) => (
  <Layout title="Secret already shown" section="credentials" actor={actor}>
    <h1>This secret was already shown</h1>
    <Notice kind="warn">
      The {rolled ? "secret was rolled" : "credential was created"} when the form was first sent, and its {rolled ? "new " : ""}secret was shown
      then, once. It cannot be shown again. If it was not copied, roll the secret or delete the credential and create a new one.
    </Notice>
    <a class="button" href="/console/credentials">Back to credentials</a>
  </Layout>
);

export const DeleteCredentialPage: FC<{ actor: string; credential: Credential }> = ({ actor, credential }) => (
  <Layout title={`Delete ${credential.name}`} section="credentials" actor={actor}>
    <h1>Delete {credential.name}?</h1>
    <Notice kind="error">
      Deletion is permanent. The {credential.type === "api_key" ? "API key" : "client secret"} stops working at once, and so does every access
      token it issued. This cannot be undone.
    </Notice>
    <form method="post" action={`/console/credentials/${credential.id}/delete`}>
      <button type="submit" class="danger">Delete permanently</button> <a class="button" href="/console/credentials">Cancel</a>
    </form>
  </Layout>
);

export const ROLL_GRACE_CHOICES = [
  { seconds: 0, label: "Stop the old secret now" },
  { seconds: 3600, label: "1 hour" },
  { seconds: 86_400, label: "24 hours" },
  { seconds: 604_800, label: "7 days" },
] as const;

export const RollCredentialPage: FC<{ actor: string; credential: Credential; nonce: string }> = ({ actor, credential, nonce }) => (
  <Layout title={`Roll secret of ${credential.name}`} section="credentials" actor={actor}>
    <h1>Roll secret of {credential.name}</h1>
    <p class="lead">
      A new secret replaces the current one{credential.client_id ? " (the client ID stays the same)" : ""}. The old one can keep working for a
      grace period while you update your integration.
    </p>
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
      <div>
        <button type="submit" class="primary">Roll secret</button> <a class="button" href="/console/credentials">Cancel</a>
      </div>
    </form>
  </Layout>
);
