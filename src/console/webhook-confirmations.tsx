import type { FC } from "hono/jsx";
import type { Endpoint, EndpointWithSecret } from "../services/webhooks";
import { ConfirmForm, CopyField, Field, Layout, Notice } from "./layout";
import { GRACE_PERIODS, RollForm } from "./parts";
import { endpointHref } from "./webhook-page";
import { WebhookStatusBadge, eventsSummary } from "./webhooks";

/**
 * What cannot be undone on a webhook endpoint, each a confirmation page (delete it, roll its
 * secret), and the page that shows a new signing secret once: the answer to a create or a roll.
 */

/** The grace a roll may give the previous secret: it keeps signing too until then. */
export const WEBHOOK_GRACE_CHOICES = [{ seconds: 0, label: "None: sign with the new secret only, now" }, ...GRACE_PERIODS] as const;

/** What the confirmation pages show about the endpoint they act on. */
const Summary: FC<{ endpoint: Endpoint }> = ({ endpoint }) => (
  <dl class="fields card">
    <Field label="URL" mono>
      {endpoint.url}
    </Field>
    <Field label="Events">{eventsSummary(endpoint.events)}</Field>
    <Field label="Status">
      <WebhookStatusBadge status={endpoint.status} />
    </Field>
  </dl>
);

export const DeleteWebhookPage: FC<{ actor: string; endpoint: Endpoint }> = ({ actor, endpoint }) => (
  <Layout title="Delete webhook endpoint" section="webhooks" actor={actor}>
    <h1>Delete this webhook endpoint?</h1>
    <Notice kind="error">Keymint stops sending it events at once, retries included, and its deliveries log goes with it. This cannot be undone. Its audit history stays.</Notice>
    <Summary endpoint={endpoint} />
    <ConfirmForm action={`${endpointHref(endpoint.id)}/delete`} cancelHref={endpointHref(endpoint.id)} kind="danger">
      Delete permanently
    </ConfirmForm>
  </Layout>
);

export const RollWebhookSecretPage: FC<{ actor: string; endpoint: Endpoint; nonce: string }> = ({ actor, endpoint, nonce }) => (
  <Layout title="Roll signing secret" section="webhooks" actor={actor}>
    <h1>Roll the signing secret</h1>
    <p class="lead">
      A new secret signs every delivery from now on. During a grace period each delivery carries two signatures, one with each secret, so the receiver
      can switch to the new secret without rejecting anything.
    </p>
    <Summary endpoint={endpoint} />
    <RollForm action={`${endpointHref(endpoint.id)}/roll`} choices={WEBHOOK_GRACE_CHOICES} cancelHref={endpointHref(endpoint.id)}>
      <input type="hidden" name="nonce" value={nonce} />
    </RollForm>
  </Layout>
);

/** The shown-once page: the response to the create (or roll) POST, never stored or cached. */
export const WebhookSecretPage: FC<{ actor: string; endpoint: EndpointWithSecret; graceLabel?: string | null | undefined }> = ({ actor, endpoint, graceLabel }) => {
  const rolled = graceLabel !== undefined;
  return (
    <Layout title="Copy your signing secret" section="webhooks" actor={actor} focus="heading">
      <h1>{rolled ? "New signing secret" : "Webhook endpoint created"}</h1>
      <Notice kind="warn">
        <strong>Copy the signing secret now. This is the only time it is shown.</strong> Keymint keeps it sealed and cannot show it again; if it is lost,
        roll the secret.
      </Notice>
      <div class="card">
        <CopyField id="webhook_secret" label="Signing secret" value={endpoint.secret} />
        <p class="hint">
          Give it to the receiver at <span class="mono">{endpoint.url}</span>: it verifies each delivery's <code>webhook-signature</code> header with it, using a
          Standard Webhooks library such as the <code>standardwebhooks</code> npm package.
        </p>
        {rolled ? (
          <p class="hint">
            {graceLabel === null
              ? "The previous secret stopped signing at once."
              : `For ${graceLabel} every delivery is signed with the previous secret too, so the receiver can switch without a gap.`}
          </p>
        ) : (
          <p class="hint">Send a test event from the endpoint's page to check the receiver.</p>
        )}
      </div>
      <div class="confirm-actions">
        <a class="button" href={endpointHref(endpoint.id)}>
          Open the endpoint
        </a>
        <a class="button primary" href="/console/webhooks">
          Done
        </a>
      </div>
    </Layout>
  );
};

/** A create or roll form sent again: nothing changed this time, and the secret is not shown again. */
export const WebhookFormSentPage: FC<{ actor: string; rolled: boolean; endpointId?: string | undefined }> = ({ actor, rolled, endpointId }) => (
  <Layout title="Form already sent" section="webhooks" actor={actor}>
    <h1>This form was sent already</h1>
    <Notice kind="warn">
      The {rolled ? "secret was rolled" : "endpoint was created"} when the form was first sent, and its secret was shown then, once. Nothing changed this
      time. If the secret was not copied, roll it again.
    </Notice>
    <a class="button" href={endpointId ? endpointHref(endpointId) : "/console/webhooks"}>
      {endpointId ? "Back to the endpoint" : "Back to webhooks"}
    </a>
  </Layout>
);
