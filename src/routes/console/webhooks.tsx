import type { Context, Hono } from "hono";
import { MAX_BODY_BYTES, MAX_ID_LENGTH } from "../../config";
import { DeleteWebhookPage, RollWebhookSecretPage, WEBHOOK_GRACE_CHOICES, WebhookFormSentPage, WebhookSecretPage } from "../../console/webhook-confirmations";
import { type DeliveryFilter, WebhookPage, endpointHref } from "../../console/webhook-page";
import {
  MAX_WEBHOOK_DESCRIPTION,
  WebhooksPage,
  type WebhookFormError,
  type WebhookFormValues,
  emptyWebhookValues,
  eventField,
  valuesOf,
} from "../../console/webhooks";
import { ApiError } from "../../http/errors";
import type { AppEnv } from "../../http/types";
import { getOrganization } from "../../services/organizations";
import { EVENT_TYPES, type EventType } from "../../services/webhook-events";
import * as webhooks from "../../services/webhooks";
import { claimFormOnce } from "../../services/console-forms";
import { randomBase62 } from "../../services/secrets";
import { decodeCursor } from "../../storage/pagination";
import { NONCE, PAGE_SIZE, consoleAudit, fieldMessage, form, listedOrganization, oneOf, refusalOf, strictQuery } from "./forms";

/**
 * The Webhooks screen (contract "Webhooks", "Console"): the endpoints and the create form (the
 * answer shows the signing secret once), and each endpoint's page: edit, enable or disable, a
 * test event, roll its secret (shown once) and delete it, each change after a confirmation page
 * where it cannot be undone, and its deliveries log. An organization's console sees and makes its
 * own organization's endpoints alone (scopeConsole answers 404 for any other's).
 */

const FLASH: Record<string, string> = {
  saved: "Endpoint saved.",
  enabled: "Endpoint enabled: events are sent to it again.",
  disabled: "Endpoint disabled: Keymint sends it nothing until it is enabled again.",
  test: "Test event sent. Its delivery shows below within a few seconds: reload the page to see it.",
};

/** The page's cursor, or a 400 when it is not one Keymint issued. */
function cursorOf(raw: string | undefined) {
  if (!raw) return null;
  const position = decodeCursor(raw);
  if (!position) throw new ApiError("invalid_request", "This page link is broken: its cursor is not one Keymint issued.");
  return position;
}

/** The names of the organizations these IDs name (a missing one is left out). */
async function organizationNames(env: Env, ids: (string | null)[]): Promise<Map<string, string>> {
  const distinct = [...new Set(ids.filter((id): id is string => id !== null))];
  const found = await Promise.all(
    distinct.map((id) =>
      getOrganization(env, id).then(
        (organization) => [id, organization.name] as const,
        (error: unknown) => {
          if (error instanceof ApiError && error.code === "not_found") return null;
          throw error;
        },
      ),
    ),
  );
  return new Map(found.filter((entry) => entry !== null));
}

/** The create or edit form as sent: its fields, with every checked event type (and "*" for All events). */
function readValues(body: Record<string, string>): WebhookFormValues {
  const events = new Set<string>();
  if (body.events_all) events.add("*");
  for (const name of Object.keys(body)) if (name.startsWith("event.")) events.add(name.slice("event.".length).slice(0, 60));
  return {
    url: (body.url ?? "").trim().slice(0, 4000),
    description: (body.description ?? "").slice(0, 2000),
    events,
    organization_id: (body.organization_id ?? "").trim().slice(0, 200),
  };
}

/** The endpoint the form asks for, checked as the admin API checks it (the URL rules: the service), or the error for its field. */
function checkedInput(values: WebhookFormValues): { url: string; events: webhooks.Endpoint["events"]; description: string | null } | WebhookFormError {
  if (!values.url) return { field: "url", message: "Endpoint URL: enter the address that receives the events." };
  const description = values.description.trim();
  if (description.length > MAX_WEBHOOK_DESCRIPTION) return { field: "description", message: `Description: at most ${MAX_WEBHOOK_DESCRIPTION} characters.` };
  const unknown = [...values.events].find((type) => type !== "*" && !(EVENT_TYPES as readonly string[]).includes(type));
  if (unknown !== undefined) return { field: "events", message: `Events: "${unknown}" is not an event type Keymint sends.` };
  if (values.events.size === 0) return { field: "events", message: "Events: choose at least one event, or All events." };
  const events = values.events.has("*") ? (["*"] as const) : (EVENT_TYPES.filter((type) => values.events.has(type)) as EventType[]);
  return { url: values.url, events: [...events], description: description || null };
}

/** A refusal of the service about one field of the form (the URL rules, an unknown organization), or null. */
function refusedField(error: unknown): WebhookFormError | null {
  const url = refusalOf(error, "url");
  if (url) return { field: "url", message: fieldMessage("Endpoint URL", url) };
  const organization = refusalOf(error, "organization_id");
  if (organization) return { field: "organization_id", message: "Organization ID: no organization has this ID." };
  return null;
}

const platformOf = (c: Context<AppEnv>) => c.get("adminOrganization") === null;

/** The list and its create form (with the form as typed and its error after a refused create). */
async function webhooksPage(c: Context<AppEnv>, extra: { values?: WebhookFormValues; error?: WebhookFormError; flash?: string | undefined } = {}, status: 200 | 400 = 200) {
  const query = status === 200 ? strictQuery(c, ["organization_id", "cursor", "done"] as const) : {};
  const organization = listedOrganization(c, query.organization_id);
  const page = await webhooks.listEndpoints(c.env, organization, PAGE_SIZE, cursorOf(query.cursor));
  const platform = platformOf(c);
  return c.html(
    <WebhooksPage
      actor={c.get("actor")}
      endpoints={page.data}
      organizationNames={platform ? await organizationNames(c.env, page.data.map((endpoint) => endpoint.organization_id)) : new Map()}
      platform={platform}
      filter={platform ? organization : null}
      next={page.next_cursor}
      values={extra.values ?? emptyWebhookValues()}
      nonce={randomBase62(32)}
      error={extra.error}
      flash={extra.flash}
    />,
    status,
  );
}

/** An endpoint's page (with the edit form as typed and its error after a refused save). */
async function webhookPage(c: Context<AppEnv>, id: string, extra: { values?: WebhookFormValues; error?: WebhookFormError; flash?: string | undefined } = {}, status: 200 | 400 = 200) {
  const query = status === 200 ? strictQuery(c, ["status", "cursor", "done"] as const) : {};
  const filter: DeliveryFilter = oneOf("status", query.status, ["failed", "succeeded"] as const);
  const endpoint = await endpointOf(c, id);
  const deliveries = await webhooks.listDeliveries(c.env, endpoint.id, filter, PAGE_SIZE, cursorOf(query.cursor));
  const platform = platformOf(c);
  return c.html(
    <WebhookPage
      actor={c.get("actor")}
      endpoint={endpoint}
      organizationNames={platform ? await organizationNames(c.env, [endpoint.organization_id]) : new Map()}
      platform={platform}
      deliveries={deliveries}
      filter={filter}
      values={extra.values ?? valuesOf(endpoint)}
      error={extra.error}
      flash={extra.flash ?? (query.done ? FLASH[query.done] : undefined)}
    />,
    status,
  );
}

/** The endpoint of a page's address (scopeConsole has already kept an organization's console to its own). */
function endpointOf(c: Context<AppEnv>, id: string): Promise<webhooks.Endpoint> {
  if (id.length > MAX_ID_LENGTH) throw webhooks.webhookNotFound();
  return webhooks.getEndpoint(c.env, id);
}

export function registerWebhookRoutes(ui: Hono<AppEnv>) {
  // The Webhooks screen: the endpoints (an organization's console: its own) and the create form
  ui.get("/webhooks", async (c) => {
    const done = c.req.query("done");
    return webhooksPage(c, { flash: done === "deleted" ? "Endpoint deleted: Keymint sends it nothing more." : undefined });
  });

  // Create an endpoint; the answer shows its signing secret once
  ui.post("/webhooks", async (c) => {
    const body = await form(c, MAX_BODY_BYTES);
    const values = readValues(body);
    const again = (error: WebhookFormError) => webhooksPage(c, { values, error }, 400);
    if (!NONCE.test(body.nonce ?? "")) return again({ field: "form", message: "Form: it expired; load the page again." });
    const input = checkedInput(values);
    if ("field" in input) return again(input);
    const own = c.get("adminOrganization");
    // An organization's console makes its own organization's endpoints, and may name no other.
    if (own !== null && values.organization_id && values.organization_id !== own) {
      return again({ field: "organization_id", message: "Organization ID: this console adds endpoints for your own organization only." });
    }
    if (values.organization_id.length > MAX_ID_LENGTH) return again({ field: "organization_id", message: "Organization ID: no organization has this ID." });
    // Sent once: a second send of this very form makes no second endpoint (and no unseen secret).
    if (!(await claimFormOnce(c.env, c.get("actor"), body.nonce!))) return c.html(<WebhookFormSentPage actor={c.get("actor")} rolled={false} />, 409);
    let created: webhooks.EndpointWithSecret;
    try {
      created = await webhooks.createEndpoint(c.env, consoleAudit(c), { ...input, organization_id: own ?? (values.organization_id || null) });
    } catch (error) {
      const refusal = refusedField(error);
      if (refusal) return again(refusal);
      throw error;
    }
    return c.html(<WebhookSecretPage actor={c.get("actor")} endpoint={created} />, 201);
  });

  // An endpoint: its fields, the edit form, its actions and its deliveries
  ui.get("/webhooks/:id", async (c) => webhookPage(c, c.req.param("id")));

  // Save an endpoint's URL, description and events
  ui.post("/webhooks/:id", async (c) => {
    const id = c.req.param("id");
    const values = readValues(await form(c, MAX_BODY_BYTES));
    const again = (error: WebhookFormError) => webhookPage(c, id, { values, error }, 400);
    const input = checkedInput(values);
    if ("field" in input) return again(input);
    await endpointOf(c, id);
    try {
      await webhooks.updateEndpoint(c.env, consoleAudit(c), id, input);
    } catch (error) {
      const refusal = refusedField(error);
      if (refusal) return again(refusal);
      throw error;
    }
    return c.redirect(`${endpointHref(id)}?done=saved`, 303);
  });

  for (const action of ["enable", "disable"] as const) {
    ui.post(`/webhooks/:id/${action}`, async (c) => {
      const id = c.req.param("id");
      await endpointOf(c, id);
      await webhooks.updateEndpoint(c.env, consoleAudit(c), id, { status: action === "enable" ? "enabled" : "disabled" });
      return c.redirect(`${endpointHref(id)}?done=${action}d`, 303);
    });
  }

  // Send a webhook.test event to this endpoint
  ui.post("/webhooks/:id/test", async (c) => {
    const id = c.req.param("id");
    await endpointOf(c, id);
    await webhooks.sendTestEvent(c.env, id);
    return c.redirect(`${endpointHref(id)}?done=test`, 303);
  });

  // Confirm rolling the signing secret, with a grace period for the old one
  ui.get("/webhooks/:id/roll", async (c) => {
    strictQuery(c, []);
    return c.html(<RollWebhookSecretPage actor={c.get("actor")} endpoint={await endpointOf(c, c.req.param("id"))} nonce={randomBase62(32)} />);
  });
  // Roll the signing secret; the answer shows the new one once
  ui.post("/webhooks/:id/roll", async (c) => {
    const id = c.req.param("id");
    const body = await form(c);
    const grace = WEBHOOK_GRACE_CHOICES.find((choice) => String(choice.seconds) === body.expires_in);
    if (!grace || !NONCE.test(body.nonce ?? "")) throw new ApiError("invalid_request", "Choose a grace period.");
    await endpointOf(c, id);
    // Sent once: a second send would roll again, and the receiver's secret would be lost to one nobody saw.
    if (!(await claimFormOnce(c.env, c.get("actor"), body.nonce!))) return c.html(<WebhookFormSentPage actor={c.get("actor")} rolled endpointId={id} />, 409);
    const rolled = await webhooks.rollSecret(c.env, consoleAudit(c), id, grace.seconds);
    return c.html(<WebhookSecretPage actor={c.get("actor")} endpoint={rolled} graceLabel={grace.seconds === 0 ? null : grace.label} />);
  });

  // Confirm deleting an endpoint
  ui.get("/webhooks/:id/delete", async (c) => {
    strictQuery(c, []);
    return c.html(<DeleteWebhookPage actor={c.get("actor")} endpoint={await endpointOf(c, c.req.param("id"))} />);
  });
  // Delete an endpoint
  ui.post("/webhooks/:id/delete", async (c) => {
    const id = c.req.param("id");
    await endpointOf(c, id);
    await webhooks.deleteEndpoint(c.env, consoleAudit(c), id);
    return c.redirect("/console/webhooks?done=deleted", 303);
  });
}
