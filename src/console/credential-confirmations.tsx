import type { FC } from "hono/jsx";
import type { Account } from "../services/accounts";
import type { Credential } from "../services/credentials";
import { TYPE_LABEL, credentialHref, listHref } from "./credential-list";
import { ConfirmForm, Field, Layout, Name, Notice, StatusBadge, When } from "./layout";
import { AUTH_METHOD_LABEL, isPrivateKeyJwt } from "./lifecycle";
import { GRACE_PERIODS, RollForm } from "./parts";

/** The confirmations of what cannot be undone on a credential: delete it, roll its secret, end a grace period. */

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
          <Name>{account.name}</Name> <StatusBadge status={account.status} />
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
    <ConfirmForm action={`/console/credentials/${credential.id}/delete`} back={back} cancelHref={listHref(back)} kind="danger">
      Delete permanently
    </ConfirmForm>
  </Layout>
);

export const ROLL_GRACE_CHOICES = [{ seconds: 0, label: "Stop the old secret now" }, ...GRACE_PERIODS] as const;

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
    <RollForm action={`/console/credentials/${credential.id}/roll`} choices={ROLL_GRACE_CHOICES} cancelHref={credentialHref(credential.id, back)}>
      <input type="hidden" name="nonce" value={nonce} />
    </RollForm>
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
    <ConfirmForm action={`/console/credentials/${credential.id}/end-grace`} back={back} cancelHref={credentialHref(credential.id, back)} kind="danger">
      End grace now
    </ConfirmForm>
  </Layout>
);
