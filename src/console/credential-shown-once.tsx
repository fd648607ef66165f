import type { FC } from "hono/jsx";
import type { Credential, CredentialWithSecret } from "../services/credentials";
import type { Handoff } from "../services/handoff";
import { HandoffKit } from "./handoff";
import { CopyField, Field, Layout, Name, Notice, When } from "./layout";
import { CLIENT_ASSERTION_TYPE } from "../services/client-assertions";
import { Expiry, KeyList } from "./lifecycle";

/**
 * What a create or roll answers with: the new secret, shown once, or (a private_key_jwt client)
 * its client ID; and the page for a form sent again, whose secret was already shown.
 */

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
        At the token endpoint it sends <code>client_assertion_type={CLIENT_ASSERTION_TYPE}</code> and <code>client_assertion</code>, a JWT with{" "}
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
