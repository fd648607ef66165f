import type { FC } from "hono/jsx";
import type { Credential } from "../services/credentials";
import type { Handoff, TestResult } from "../services/handoff";
import { CopyField, Field, When } from "./layout";
import { CardSection } from "./parts";
import { CLIENT_ASSERTION_TYPE } from "../services/client-assertions";

/**
 * The handoff kit: what an integration needs besides its secret, with absolute URLs. On the
 * shown-once page the snippets carry the secret itself; elsewhere a placeholder stands for it.
 */
export const HandoffKit: FC<{ credential: Credential; urls: Handoff; secret?: string | undefined; idPrefix: string }> = ({ credential, urls, secret, idPrefix }) => {
  const placeholder = "<the secret shown once>";
  const isClient = credential.type === "oauth_client";
  if (isClient && credential.token_endpoint_auth_method === "private_key_jwt") return <PrivateKeyJwtKit credential={credential} urls={urls} idPrefix={idPrefix} />;
  const env = isClient
    ? [
        `KEYMINT_TOKEN_URL=${urls.token_endpoint}`,
        `KEYMINT_CLIENT_ID=${credential.client_id ?? ""}`,
        `KEYMINT_CLIENT_SECRET=${secret ?? placeholder}`,
        `KEYMINT_AUDIENCE=${urls.audience}`,
        `KEYMINT_ISSUER=${urls.issuer}`,
        `KEYMINT_JWKS_URL=${urls.jwks_uri}`,
      ].join("\n")
    : [`KEYMINT_API_KEY=${secret ?? placeholder}`, `KEYMINT_TEST_AUTH_URL=${urls.test_auth_url}`].join("\n");
  const curl = isClient
    ? `curl -s -u "$KEYMINT_CLIENT_ID:$KEYMINT_CLIENT_SECRET" -d grant_type=client_credentials ${urls.token_endpoint}`
    : `curl -s ${urls.test_auth_url} -H "Authorization: Bearer $KEYMINT_API_KEY"`;
  return (
    <CardSection id={idPrefix} heading="Hand it to the integration">
      <dl class="fields">
        {isClient ? (
          <>
            <Field label="Token endpoint" mono>{urls.token_endpoint}</Field>
            <Field label="Audience (aud)" mono>{urls.audience}</Field>
            <Field label="Issuer (iss)" mono>{urls.issuer}</Field>
            <Field label="JWKS" mono>{urls.jwks_uri}</Field>
            <Field label="Metadata" mono>{urls.metadata_url}</Field>
          </>
        ) : (
          <Field label="Check a key" mono>{urls.test_auth_url}</Field>
        )}
      </dl>
      <CopyField id={`${idPrefix}-env`} label=".env snippet" value={env} multiline />
      <CopyField id={`${idPrefix}-curl`} label={isClient ? "curl: get a token" : "curl: check the key"} value={curl} multiline />
      {secret ? null : <p class="hint">The secret is not shown again: put the one you copied at creation (or after a roll) in its place.</p>}
      {credential.dpop_bound_access_tokens ? <DpopHint /> : null}
    </CardSection>
  );
};

const DpopHint: FC = () => (
  <p class="hint">
    This client must send a <code>DPoP</code> proof header (RFC 9449) with each token request; its tokens are DPoP-bound and are presented as{" "}
    <code>Authorization: DPoP …</code>.
  </p>
);

/**
 * The kit for a private_key_jwt client: no secret exists, so the client signs an assertion with
 * its private key (RFC 7523 §2.2) and sends it to the token endpoint.
 */
const PrivateKeyJwtKit: FC<{ credential: Credential; urls: Handoff; idPrefix: string }> = ({ credential, urls, idPrefix }) => {
  const env = [
    `KEYMINT_TOKEN_URL=${urls.token_endpoint}`,
    `KEYMINT_CLIENT_ID=${credential.client_id ?? ""}`,
    `KEYMINT_CLIENT_ASSERTION_TYPE=${CLIENT_ASSERTION_TYPE}`,
    `KEYMINT_ASSERTION_AUDIENCE=${urls.issuer}`,
    `KEYMINT_AUDIENCE=${urls.audience}`,
    `KEYMINT_ISSUER=${urls.issuer}`,
    `KEYMINT_JWKS_URL=${urls.jwks_uri}`,
  ].join("\n");
  const curl = [
    `curl -s ${urls.token_endpoint} \\`,
    "  -d grant_type=client_credentials \\",
    `  -d client_assertion_type=${CLIENT_ASSERTION_TYPE} \\`,
    '  -d "client_assertion=$ASSERTION"',
  ].join("\n");
  return (
    <CardSection id={idPrefix} heading="Hand it to the integration">
      <p>
        This client has no secret. It signs a short-lived JWT (the client assertion) with its private key and sends it to the token endpoint with{" "}
        <code>client_assertion_type={CLIENT_ASSERTION_TYPE}</code>. The assertion needs <code>iss</code> and <code>sub</code> = the client ID, <code>aud</code> = the
        issuer (<span class="mono">{urls.issuer}</span>), an <code>exp</code> at most 5 minutes ahead and a <code>jti</code> used once, and a{" "}
        <code>kid</code> from its JWK Set (ES256, PS256, RS256 or EdDSA).
      </p>
      <dl class="fields">
        <Field label="Token endpoint" mono>{urls.token_endpoint}</Field>
        <Field label="Assertion audience (aud)" mono>{urls.issuer}</Field>
        <Field label="Token audience (aud)" mono>{urls.audience}</Field>
        <Field label="JWKS" mono>{urls.jwks_uri}</Field>
        <Field label="Metadata" mono>{urls.metadata_url}</Field>
      </dl>
      <CopyField id={`${idPrefix}-env`} label=".env snippet" value={env} multiline />
      <CopyField id={`${idPrefix}-curl`} label="curl: get a token with a signed assertion" value={curl} multiline />
      {credential.dpop_bound_access_tokens ? <DpopHint /> : null}
    </CardSection>
  );
};

/** The answer to Test now; the shown-once page puts it in place (the element with id test-result). */
export const TestResultView: FC<{ result: TestResult }> = ({ result }) => (
  <div id="test-result" class={`notice ${result.ok ? "ok" : "error"}`}>
    {result.ok ? (
      result.kind === "access_token" ? (
        <>
          <h2>It works: Keymint issued an access token</h2>
          <p>These are its claims (the token itself is not shown). It lives until <When at={new Date(result.claims.exp * 1000).toISOString()} /> UTC.</p>
          <pre class="claims">{JSON.stringify(result.claims, null, 2)}</pre>
        </>
      ) : (
        <>
          <h2>It works: the API key is accepted</h2>
          <pre class="claims">{JSON.stringify({ ok: true, account_id: result.account_id, credential_id: result.credential_id, scopes: result.scopes, claims: result.claims }, null, 2)}</pre>
        </>
      )
    ) : (
      <>
        <h2>It did not work</h2>
        <p>{result.reason}</p>
      </>
    )}
  </div>
);
