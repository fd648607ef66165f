import type { FC } from "hono/jsx";
import { MAX_ALLOWED_IPS } from "../config";
import type { Account } from "../services/accounts";
import type { Api } from "../services/apis";
import type { AuditEvent } from "../services/audit";
import type { Credential } from "../services/credentials";
import type { Handoff } from "../services/handoff";
import type { UsageBucket } from "../services/usage-reports";
import { isDefaultApi } from "../services/apis";
import { type AccessError, GrantFields, type GrantSelection } from "./apis";
import { AuditTable } from "./audit";
import { TYPE_LABEL, listHref } from "./credential-list";
import { HandoffKit } from "./handoff";
import { errorMarks, Field, FieldError, Layout, Name, Notice, StatusBadge, When, withQuery, Writable } from "./layout";
import { AUTH_METHOD_LABEL, ExpiresAtField, Expiry, JwksField, KeyList, LeakBanner, isPrivateKeyJwt } from "./lifecycle";
import { MetadataList, type MetadataRow, MetadataSection, type RowsError } from "./metadata-editor";
import { CardSection, FormError, MonoList, PageHead, Submit } from "./parts";
import { QuietHint, UsageChart } from "./usage";

/**
 * A credential's page: its fields and account, usage, the expiry and restrictions form, its
 * public keys (private_key_jwt), its APIs and scopes, its metadata, the handoff kit and its history.
 */

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
  metadataRows: MetadataRow[];
  metadataError?: RowsError | undefined;
  /** Hourly, over the last 7 days. */
  usage: UsageBucket[];
  flash?: string | undefined;
}> = ({
  actor,
  credential,
  account,
  events,
  moreEvents,
  urls,
  back,
  apis,
  selection,
  maxLifetimeDays,
  settings,
  settingsError,
  jwks,
  jwksError,
  accessError,
  metadataRows,
  metadataError,
  usage,
  flash,
}) => (
  <Layout title={credential.name} section="credentials" actor={actor} focus={flash ? "heading" : undefined}>
    <PageHead back={{ href: listHref(back), label: "Credentials" }} heading={<Name>{credential.name}</Name>} lead={TYPE_LABEL[credential.type]}>
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
    </PageHead>
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
            <StatusBadge status={account.status} /> <span class="hint mono">{account.id}</span>
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
              const api = apis.find((candidate) => !isDefaultApi(candidate.id) && candidate.identifier === grant.api);
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
        {credential.allowed_ips === null ? <span class="hint">Anywhere: no allowlist</span> : <MonoList items={credential.allowed_ips} />}
      </Field>
      <Field label="Metadata">
        <MetadataList metadata={credential.metadata} />
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
    <CardSection id="settings" heading="Expiry and restrictions">
      <p class="hint">Changes apply at once: an earlier expiry, a new allowlist or requiring DPoP take effect for the next request.</p>
      <Writable>
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
              {...errorMarks(settingsError?.field === "allowed_ips", "allowed_ips", "allowed_ips-hint")}
            >
              {settings.allowed_ips}
            </textarea>
            <div class="hint" id="allowed_ips-hint">
              One IPv4 or IPv6 CIDR per line, at most {MAX_ALLOWED_IPS} (for example <code>203.0.113.0/24</code> or <code>2001:db8::/32</code>). Empty: it works from
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
          <Submit>Save expiry and restrictions</Submit>
        </form>
      </Writable>
    </CardSection>
    {isPrivateKeyJwt(credential) ? (
      <CardSection id="keys" heading="Public keys">
        <p class="hint">
          Rotate by replacing the set: add the new key, move the client to it, then remove the old one. A key removed here stops working at once.
        </p>
        <Writable>
          <form method="post" action={`/console/credentials/${credential.id}/jwks`} class="stack">
            <input type="hidden" name="back" value={back} />
            <JwksField value={jwks} error={jwksError} required label="JWK Set" />
            <Submit>Replace keys</Submit>
          </form>
        </Writable>
      </CardSection>
    ) : null}
    <CardSection id="access" heading="APIs and scopes">
      <p class="hint">
        A token is for one API: the client names it with <code>resource</code> at the token endpoint. Changes apply to tokens minted after you save.
      </p>
      <FormError error={accessError} />
      <Writable>
        <form method="post" action={`/console/credentials/${credential.id}/access`} class="stack">
          <input type="hidden" name="back" value={back} />
          <GrantFields apis={apis} selection={selection} error={accessError} />
          <Submit>Save access</Submit>
        </form>
      </Writable>
    </CardSection>
    <MetadataSection action={`/console/credentials/${credential.id}/metadata`} back={back} rows={metadataRows} error={metadataError}>
      Your own facts about this credential. An API whose token claims name <code>credential.metadata.&lt;name&gt;</code> copies them into the tokens minted after you save.
    </MetadataSection>
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
