import type { FC } from "hono/jsx";
import type { Page } from "../storage/pagination";
import type { Delivery, Endpoint } from "../services/webhooks";
import { EmptyRow, Field, FilterButtons, Layout, Notice, Pager, When, Writable } from "./layout";
import { CardSection, FormError, MonoList, PageHead, Submit } from "./parts";
import { OrganizationName, WebhookFields, type WebhookFormError, type WebhookFormValues, WebhookStatusBadge } from "./webhooks";

/**
 * An endpoint's page: its fields, the edit form, enable or disable, a test event, the ways to
 * roll its secret and delete it, and its deliveries log with a status filter.
 */

export type DeliveryFilter = Delivery["status"] | null;

export const endpointHref = (id: string) => `/console/webhooks/${id}`;

export const WebhookPage: FC<{
  actor: string;
  endpoint: Endpoint;
  /** Names of organizations by ID (platform admins; empty in an organization's console). */
  organizationNames: ReadonlyMap<string, string>;
  platform: boolean;
  deliveries: Page<Delivery>;
  filter: DeliveryFilter;
  values: WebhookFormValues;
  error?: WebhookFormError | undefined;
  flash?: string | undefined;
}> = ({ actor, endpoint, organizationNames, platform, deliveries, filter, values, error, flash }) => {
  const enabled = endpoint.status === "enabled";
  return (
    <Layout title={`Webhook ${endpoint.url.slice(0, 80)}`} section="webhooks" actor={actor} focus={flash ? "heading" : undefined}>
      <PageHead back={{ href: "/console/webhooks", label: "Webhooks" }} heading={endpoint.url} headingClass="mono-heading" lead="Webhook endpoint">
        <form method="post" action={`${endpointHref(endpoint.id)}/test`} class="inline">
          <button type="submit">Send test event</button>
        </form>
        <form method="post" action={`${endpointHref(endpoint.id)}/${enabled ? "disable" : "enable"}`} class="inline">
          <button type="submit">{enabled ? "Disable" : "Enable"}</button>
        </form>
        <a class="button" href={`${endpointHref(endpoint.id)}/roll`}>
          Roll secret
        </a>
        <a class="button danger" href={`${endpointHref(endpoint.id)}/delete`}>
          Delete
        </a>
      </PageHead>
      {flash ? <Notice kind="ok">{flash}</Notice> : null}
      <FormError error={error} />
      {enabled ? null : <Notice kind="warn">This endpoint is disabled: Keymint sends it nothing until it is enabled again.</Notice>}
      <dl class="fields card">
        <Field label="Endpoint ID" mono>
          {endpoint.id}
        </Field>
        <Field label="URL" mono>
          {endpoint.url}
        </Field>
        <Field label="Description">{endpoint.description ? <bdi dir="auto">{endpoint.description}</bdi> : <span class="hint">None</span>}</Field>
        <Field label="Events">
          {endpoint.events.includes("*") ? "All events" : <MonoList items={endpoint.events} />}
        </Field>
        <Field label="Organization">
          {platform ? <OrganizationName id={endpoint.organization_id} names={organizationNames} /> : <span>Your organization</span>}
        </Field>
        <Field label="Status">
          <WebhookStatusBadge status={endpoint.status} />
        </Field>
        <Field label="Signing secret">
          <span class="hint">Shown once, when the endpoint was created or its secret rolled. Roll it to get a new one.</span>
        </Field>
        <Field label="Created (UTC)">
          <When at={endpoint.created_at} />
        </Field>
        <Field label="Updated (UTC)">
          <When at={endpoint.updated_at} />
        </Field>
      </dl>
      <Writable>
        <CardSection id="edit" heading="Edit endpoint">
          <form method="post" action={endpointHref(endpoint.id)} class="stack">
            <WebhookFields idPrefix="edit" values={values} error={error} />
            <Submit>Save endpoint</Submit>
          </form>
        </CardSection>
      </Writable>
      <DeliveriesSection endpoint={endpoint} deliveries={deliveries} filter={filter} />
    </Layout>
  );
};

/** The deliveries log: every attempt, newest first, with a filter by result. */
const DeliveriesSection: FC<{ endpoint: Endpoint; deliveries: Page<Delivery>; filter: DeliveryFilter }> = ({ endpoint, deliveries, filter }) => (
  <section aria-labelledby="deliveries-heading">
    <h2 id="deliveries-heading">Deliveries</h2>
    <p class="hint">
      Each attempt, newest first. A failed event is tried again with backoff for at least 24 hours, under the same <code>webhook-id</code>; an endpoint
      failing every attempt for 5 days is disabled.
    </p>
    <form method="get" action={endpointHref(endpoint.id)} class="filters" role="search" aria-label="Filter deliveries">
      <div>
        <label for="delivery-status">Result</label>
        <select id="delivery-status" name="status">
          <option value="" selected={filter === null}>
            All
          </option>
          <option value="failed" selected={filter === "failed"}>
            Failed
          </option>
          <option value="succeeded" selected={filter === "succeeded"}>
            Delivered
          </option>
        </select>
      </div>
      <FilterButtons filtered={filter !== null} clearHref={endpointHref(endpoint.id)} />
    </form>
    <DeliveriesTable deliveries={deliveries.data} filtered={filter !== null} />
    <Pager path={endpointHref(endpoint.id)} filters={{ status: filter }} newer={null} older={deliveries.next_cursor} label="Pages of deliveries" />
  </section>
);

const COLUMNS = ["Event", "Attempt", "Result", "Status code", "Error", "When (UTC)", "Next attempt (UTC)"];

export const DeliveriesTable: FC<{ deliveries: Delivery[]; filtered: boolean }> = ({ deliveries, filtered }) => (
  <table class="cards">
    <caption class="sr-only">Deliveries</caption>
    <thead>
      <tr>
        {COLUMNS.map((column) => (
          <th scope="col">{column}</th>
        ))}
      </tr>
    </thead>
    <tbody>
      {deliveries.length === 0 ? (
        <EmptyRow columns={COLUMNS.length}>{filtered ? "No deliveries match." : "No deliveries yet. Send a test event to see one here."}</EmptyRow>
      ) : (
        deliveries.map((delivery) => (
          <tr>
            <td data-label="Event">
              <span class="mono">{delivery.event_type}</span>
              <div class="hint mono">{delivery.event_id}</div>
            </td>
            <td data-label="Attempt">{delivery.attempt}</td>
            <td data-label="Result">{delivery.status === "succeeded" ? <span class="badge ok">Delivered</span> : <span class="badge off">Failed</span>}</td>
            <td data-label="Status code" class="mono">
              {delivery.status_code ?? <span class="hint">No answer</span>}
            </td>
            <td data-label="Error">{delivery.error ?? <span class="hint">None</span>}</td>
            <td data-label="When (UTC)">
              <When at={delivery.at} />
            </td>
            <td data-label="Next attempt (UTC)">
              <When at={delivery.next_attempt_at} never={delivery.status === "succeeded" ? "None: delivered" : "None: out of retries"} />
            </td>
          </tr>
        ))
      )}
    </tbody>
  </table>
);
