import type { FC } from "hono/jsx";
import { MAX_NAME_LENGTH } from "../config";
import type { Account } from "../services/accounts";
import type { Api } from "../services/apis";
import { type AccessError, GrantFields, type GrantSelection } from "./apis";
import { FieldError, Layout } from "./layout";
import { ExpiresAtField, JwksField } from "./lifecycle";
import { CancelOrSubmit, FormError } from "./parts";

/** The create-credential form: name, type, account picker, client authentication, expiry and grants. */

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
  return (
    <Layout title="Create credential" section="credentials" actor={actor}>
      <h1>Create credential</h1>
      <p class="lead">The secret is shown once, right after you create it. Keymint keeps only its hash.</p>
      <FormError error={error ?? accessError} />
      <form method="post" action="/console/credentials" class="stack card">
        <input type="hidden" name="nonce" value={nonce} />
        <div>
          <label for="name">Credential Name</label>
          <input id="name" name="name" type="text" required maxlength={MAX_NAME_LENGTH} autocomplete="off" dir="auto" value={values.name} {...invalid(error, "name")} />
          <FieldError error={error} field="name" />
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
          <FieldError error={error} field="account_id" />
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
        <CancelOrSubmit cancelHref="/console/credentials">Create credential</CancelOrSubmit>
      </form>
    </Layout>
  );
};
