import type { FC } from "hono/jsx";
import { MAX_ID_LENGTH } from "../config";
import { MAX_WEBHOOK_URL_LENGTH } from "../lib/webhook-urls";
import { EVENT_TYPES } from "../services/webhook-events";
import type { Endpoint } from "../services/webhooks";
import { ColumnHeads, EmptyRow, errorMarks, FieldError, FilterButtons, Layout, Name, Notice, OrganizationFilter, Pager, PlatformOnly, When, Writable } from "./layout";
import { FormError, Submit } from "./parts";

/**
 * The Webhooks screen: the endpoints (an organization's console: its own alone), the create form
 * with its event picker, and what the endpoint's page shares with it (the badge, the summary of
 * its events, the form's fields).
 */

/** Longest description of an endpoint (the admin API's limit). */
export const MAX_WEBHOOK_DESCRIPTION = 500;

/** The create and edit forms as typed: `events` holds each checked type, and "*" for All events. */
export interface WebhookFormValues {
  url: string;
  description: string;
  events: ReadonlySet<string>;
  organization_id: string;
}

export interface WebhookFormError {
  field: "url" | "description" | "events" | "organization_id" | "form";
  message: string;
}

export const emptyWebhookValues = (): WebhookFormValues => ({ url: "", description: "", events: new Set(), organization_id: "" });

/** An endpoint as its edit form shows it. */
export const valuesOf = (endpoint: Endpoint): WebhookFormValues => ({
  url: endpoint.url,
  description: endpoint.description ?? "",
  events: new Set(endpoint.events),
  organization_id: endpoint.organization_id ?? "",
});

/** The event types by their prefix, in the order of EVENT_TYPES. */
const EVENT_GROUPS = [
  { prefix: "credential", label: "Credentials" },
  { prefix: "account", label: "Accounts" },
  { prefix: "organization", label: "Organizations" },
  { prefix: "api", label: "APIs" },
  { prefix: "webhook", label: "Webhooks" },
] as const;

/** The form field of one event type's checkbox. */
export const eventField = (type: string) => `event.${type}`;

export const WebhookStatusBadge: FC<{ status: Endpoint["status"] }> = ({ status }) =>
  status === "enabled" ? <span class="badge ok">Enabled</span> : <span class="badge off">Disabled</span>;

/** "All events", or the types (the first few, then how many more). */
export function eventsSummary(events: readonly string[], shown = 3): string {
  if (events.includes("*")) return "All events";
  if (events.length <= shown) return events.join(", ");
  return `${events.slice(0, shown).join(", ")} and ${events.length - shown} more`;
}

/** aria-invalid, a pointer to the message (and the hint) and autofocus, for the field the error is about. */
const invalid = (error: WebhookFormError | undefined, field: WebhookFormError["field"], id: string, hint?: string) => errorMarks(error?.field === field, id, hint);

/** URL, description and the event picker: the create form's and the edit form's fields (`idPrefix` keeps ids apart). */
export const WebhookFields: FC<{ idPrefix: string; values: WebhookFormValues; error: WebhookFormError | undefined }> = ({ idPrefix, values, error }) => (
  <>
    <div>
      <label for={`${idPrefix}-url`}>Endpoint URL</label>
      <input
        id={`${idPrefix}-url`}
        name="url"
        type="url"
        inputmode="url"
        required
        maxlength={MAX_WEBHOOK_URL_LENGTH}
        autocomplete="off"
        spellcheck={false}
        dir="ltr"
        value={values.url}
        {...invalid(error, "url", `${idPrefix}-url`, `${idPrefix}-url-hint`)}
      />
      <FieldError error={error} field="url" id={`${idPrefix}-url`} />
      <div class="hint" id={`${idPrefix}-url-hint`}>
        Where Keymint posts each event: https and a public host, such as https://hooks.example.com/keymint.
      </div>
    </div>
    <div>
      <label for={`${idPrefix}-description`}>Description (optional)</label>
      <input
        id={`${idPrefix}-description`}
        name="description"
        type="text"
        maxlength={MAX_WEBHOOK_DESCRIPTION}
        autocomplete="off"
        dir="auto"
        value={values.description}
        {...invalid(error, "description", `${idPrefix}-description`)}
      />
      <FieldError error={error} field="description" id={`${idPrefix}-description`} />
    </div>
    <EventPicker idPrefix={idPrefix} chosen={values.events} error={error} />
  </>
);

/** Checkboxes for every event type, grouped by what they are about, and All events. */
const EventPicker: FC<{ idPrefix: string; chosen: ReadonlySet<string>; error: WebhookFormError | undefined }> = ({ idPrefix, chosen, error }) => (
  <fieldset class="events">
    <legend>Events</legend>
    <div class="hint" id={`${idPrefix}-events-hint`}>
      The events this endpoint receives. All events includes types added to Keymint later; it wins over the boxes below.
    </div>
    <FieldError error={error} field="events" id={`${idPrefix}-events`} />
    <label class="check">
      <input type="checkbox" name="events_all" value="on" checked={chosen.has("*")} {...invalid(error, "events", `${idPrefix}-events`, `${idPrefix}-events-hint`)} /> All events
    </label>
    {EVENT_GROUPS.map((group) => (
      <fieldset class="event-group">
        <legend>{group.label}</legend>
        <div class="scope-list">
          {EVENT_TYPES.filter((type) => type.startsWith(`${group.prefix}.`)).map((type) => (
            <label>
              <input type="checkbox" name={eventField(type)} value="on" checked={chosen.has(type)} /> <span class="mono">{type}</span>
            </label>
          ))}
        </div>
      </fieldset>
    ))}
  </fieldset>
);

export const WebhooksPage: FC<{
  actor: string;
  endpoints: Endpoint[];
  /** Names of the organizations the rows name (platform admins). */
  organizationNames: ReadonlyMap<string, string>;
  /** A platform admin's console: the organization column, filter and field. */
  platform: boolean;
  filter: string | null;
  next: string | null;
  values: WebhookFormValues;
  /** The create form's one-time nonce (src/services/console-forms.ts). */
  nonce: string;
  error?: WebhookFormError | undefined;
  flash?: string | undefined;
}> = ({ actor, endpoints, organizationNames, platform, filter, next, values, nonce, error, flash }) => (
  <Layout title="Webhooks" section="webhooks" actor={actor} focus={flash ? "heading" : undefined}>
    <h1>Webhooks</h1>
    <p class="lead">
      Keymint posts a signed event (Standard Webhooks) to each endpoint when something changes: a credential created, rolled, leaked or expiring, an
      account or organization deactivated, and more.{" "}
      {platform ? "A platform endpoint receives every organization's events; an organization's, its own only." : "These endpoints receive your organization's events."}
    </p>
    {flash ? <Notice kind="ok">{flash}</Notice> : null}
    <FormError error={error} />
    <Writable>
      <form method="post" action="/console/webhooks" class="card stack">
        <h2>Add endpoint</h2>
        <input type="hidden" name="nonce" value={nonce} />
        <WebhookFields idPrefix="new" values={values} error={error} />
        <PlatformOnly>
          <div>
            <label for="new-organization">Organization ID (optional)</label>
            <input
              id="new-organization"
              name="organization_id"
              type="text"
              maxlength={MAX_ID_LENGTH}
              placeholder="org_…"
              autocomplete="off"
              spellcheck={false}
              value={values.organization_id}
              {...invalid(error, "organization_id", "new-organization", "new-organization-hint")}
            />
            <FieldError error={error} field="organization_id" id="new-organization" />
            <div class="hint" id="new-organization-hint">
              Empty: a platform endpoint, for every organization's events. An organization's ID: that organization's events only.
            </div>
          </div>
        </PlatformOnly>
        <Submit>Add endpoint</Submit>
      </form>
    </Writable>
    {platform ? (
      <form method="get" action="/console/webhooks" class="filters" role="search" aria-label="Filter endpoints">
        <OrganizationFilter value={filter} />
        <FilterButtons filtered={Boolean(filter)} clearHref="/console/webhooks" />
      </form>
    ) : null}
    <table class="cards">
      <caption class="sr-only">Webhook endpoints</caption>
      <ColumnHeads columns={["URL", "Events", ...(platform ? ["Organization"] : []), "Status", "Created (UTC)"]} />
      <tbody>
        {endpoints.length === 0 ? (
          <EmptyRow columns={platform ? 6 : 5}>{filter ? "No endpoints for this organization." : "No endpoints yet."}</EmptyRow>
        ) : (
          endpoints.map((endpoint) => (
            <tr>
              <td data-label="URL">
                <a href={`/console/webhooks/${endpoint.id}`} class="mono">
                  {endpoint.url}
                </a>
                {endpoint.description ? (
                  <div class="hint">
                    <Name>{endpoint.description}</Name>
                  </div>
                ) : null}
              </td>
              <td data-label="Events">{eventsSummary(endpoint.events)}</td>
              {platform ? (
                <td data-label="Organization">
                  <OrganizationName id={endpoint.organization_id} names={organizationNames} />
                </td>
              ) : null}
              <td data-label="Status">
                <WebhookStatusBadge status={endpoint.status} />
              </td>
              <td data-label="Created (UTC)">
                <When at={endpoint.created_at} />
              </td>
              <td class="actions">
                <a class="button small" href={`/console/webhooks/${endpoint.id}`} aria-label={`Open the endpoint ${endpoint.url}`}>
                  Open
                </a>
              </td>
            </tr>
          ))
        )}
      </tbody>
    </table>
    <Pager path="/console/webhooks" filters={{ organization_id: filter }} newer={null} older={next} />
  </Layout>
);

/** An endpoint's organization: the platform's, or its name (and ID) with a link to its page. */
export const OrganizationName: FC<{ id: string | null; names: ReadonlyMap<string, string> }> = ({ id, names }) =>
  id === null ? (
    <span>Platform: every organization</span>
  ) : (
    <>
      <a href={`/console/organizations/${id}`}>{names.has(id) ? <Name>{names.get(id)}</Name> : <span class="mono">{id}</span>}</a>
      {names.has(id) ? <div class="hint mono">{id}</div> : null}
    </>
  );
