import { ApiError, invalidField } from "../http/errors";
import { seal, unseal } from "../lib/sealing";
import { webhookUrlProblem } from "../lib/webhook-urls";
import { type AuditContext, IF_CHANGED, insertAuditEvent, ifRowExists } from "../storage/audit-events";
import { commit } from "../storage/d1";
import { type Page, type Position, toPage } from "../storage/pagination";
import * as store from "../storage/webhooks";
import type { EndpointRow } from "../storage/webhooks";
import { newId, nowIso } from "./ids";
import { type EventType, standaloneEvent } from "./webhook-events";

/**
 * Webhook endpoints (contract "Webhooks"): where events go, which ones, for which organization
 * (null: the platform's, every organization's events), and the secret deliveries are signed with
 * (Standard Webhooks: `whsec_` and 32 random bytes, shown once, sealed at rest). A roll keeps the
 * previous secret signing too until its grace ends, so a receiver can switch without a gap.
 */

export interface Endpoint {
  id: string;
  url: string;
  events: (EventType | "*")[];
  organization_id: string | null;
  description: string | null;
  status: store.EndpointStatus;
  created_at: string;
  updated_at: string;
}

export type EndpointWithSecret = Endpoint & { secret: string };

function toEndpoint(row: EndpointRow): Endpoint {
  return {
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as Endpoint["events"],
    organization_id: row.organization_id,
    description: row.description,
    status: row.status,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

const unknownOrganization = () => invalidField("organization_id", "organization_id must name an organization.");
export const webhookNotFound = () => new ApiError("not_found", "No webhook endpoint has this id.");
const conflict = () => new ApiError("conflict", "Another change to this endpoint kept landing first. Read it again, then retry.");

async function mustGet(env: Env, id: string): Promise<EndpointRow> {
  const row = await store.getEndpoint(env.DB, id);
  if (!row) throw webhookNotFound();
  return row;
}

/** A new signing secret: Standard Webhooks' `whsec_` and base64 of 32 random bytes (256 bits). */
function newSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

const sealSecret = (env: Env, endpointId: string, secret: string) => seal(env.KEY_ENCRYPTION_KEY, new TextEncoder().encode(secret), endpointId);
const openSecret = async (env: Env, endpointId: string, sealed: string) => new TextDecoder().decode(await unseal(env.KEY_ENCRYPTION_KEY, sealed, endpointId));

/** The secrets a delivery is signed with now: the current one, and the previous one during a roll's grace. */
export async function signingSecrets(env: Env, row: EndpointRow, now = Date.now()): Promise<string[]> {
  const current = await openSecret(env, row.id, row.sealed_secret);
  const grace = row.sealed_previous_secret !== null && row.previous_secret_expires_at !== null && Date.parse(row.previous_secret_expires_at) > now;
  return grace ? [current, await openSecret(env, row.id, row.sealed_previous_secret!)] : [current];
}

function checkedUrl(env: Env, url: string): string {
  const problem = webhookUrlProblem(url, env.WEBHOOK_ALLOW_INSECURE_URLS === "true");
  if (problem) throw invalidField("url", `${problem}.`);
  return url;
}

/** `["*"]` alone, or distinct event types: stored as given. */
const storedEvents = (events: Endpoint["events"]) => JSON.stringify(events.includes("*") ? ["*"] : [...new Set(events)]);

const audit = (action: string, row: { id: string; url: string }) => ({ action, target_type: "webhook" as const, target_id: row.id, target_name: row.url });

export interface NewEndpoint {
  url: string;
  events: Endpoint["events"];
  organization_id?: string | null | undefined;
  description?: string | null | undefined;
}

export async function createEndpoint(env: Env, who: AuditContext, input: NewEndpoint): Promise<EndpointWithSecret> {
  const url = checkedUrl(env, input.url);
  const organizationId = input.organization_id ?? null;
  const at = nowIso();
  const id = newId("wh");
  const secret = newSecret();
  const row: EndpointRow = {
    id,
    url,
    events: storedEvents(input.events),
    organization_id: organizationId,
    description: input.description ?? null,
    status: "enabled",
    sealed_secret: await sealSecret(env, id, secret),
    sealed_previous_secret: null,
    previous_secret_expires_at: null,
    failing_since: null,
    created_at: at,
    updated_at: at,
  };
  const [inserted] = await commit(env.DB, [store.insertEndpoint(env.DB, row), insertAuditEvent(env.DB, who, at, audit("webhook.create", row), IF_CHANGED)]);
  // The insert names its organization only while that exists (a deletion racing it included).
  if (!inserted) throw unknownOrganization();
  return { ...toEndpoint(row), secret };
}

export async function getEndpoint(env: Env, id: string): Promise<Endpoint> {
  return toEndpoint(await mustGet(env, id));
}

/** The organization an endpoint belongs to (null: the platform's), or undefined when there is none. */
export async function endpointOrganization(env: Env, id: string): Promise<string | null | undefined> {
  const row = await store.getEndpoint(env.DB, id);
  return row ? row.organization_id : undefined;
}

export async function listEndpoints(env: Env, organizationId: string | null, limit: number, after: Position | null): Promise<Page<Endpoint>> {
  const rows = await store.listEndpoints(env.DB, organizationId, limit + 1, after);
  const page = toPage(rows, limit, (row) => ({ time: row.created_at, id: row.id }));
  return { data: page.data.map(toEndpoint), next_cursor: page.next_cursor };
}

export interface EndpointChanges {
  url?: string | undefined;
  events?: Endpoint["events"] | undefined;
  description?: string | null | undefined;
  status?: store.EndpointStatus | undefined;
}

/** Edits an endpoint; enabling one starts its failing run afresh. */
export async function updateEndpoint(env: Env, who: AuditContext, id: string, changes: EndpointChanges): Promise<Endpoint> {
  if (Object.values(changes).every((value) => value === undefined)) return getEndpoint(env, id);
  const values: store.EndpointChanges = {
    ...(changes.url === undefined ? {} : { url: checkedUrl(env, changes.url) }),
    ...(changes.events === undefined ? {} : { events: storedEvents(changes.events) }),
    ...(changes.description === undefined ? {} : { description: changes.description }),
    ...(changes.status === undefined ? {} : { status: changes.status, failing_since: null }),
  };
  for (let attempt = 0; attempt <= 3; attempt++) {
    const row = await mustGet(env, id);
    const at = nowIso(Math.max(Date.now(), Date.parse(row.updated_at) + 1));
    const action = changes.status !== undefined && changes.status !== row.status ? (changes.status === "enabled" ? "webhook.enable" : "webhook.disable") : "webhook.update";
    const [changed] = await commit(env.DB, [
      store.updateEndpoint(env.DB, id, values, row.updated_at, at),
      insertAuditEvent(env.DB, who, at, audit(action, { id, url: values.url ?? row.url }), IF_CHANGED),
    ]);
    if (changed) return getEndpoint(env, id);
  }
  throw conflict();
}

export async function deleteEndpoint(env: Env, who: AuditContext, id: string): Promise<void> {
  const row = await mustGet(env, id);
  const results = await commit(env.DB, [
    insertAuditEvent(env.DB, who, nowIso(), audit("webhook.delete", row), ifRowExists("webhook_endpoints", id)),
    store.deleteEndpoint(env.DB, id),
  ]);
  if (!results[1]) throw webhookNotFound();
}

/**
 * A new secret, shown once. With `expiresIn` seconds of grace, every delivery until then is
 * signed with both (two `v1,` signatures), so a receiver verifies with either; 0 ends the old one now.
 */
export async function rollSecret(env: Env, who: AuditContext, id: string, expiresIn: number): Promise<EndpointWithSecret> {
  const secret = newSecret();
  for (let attempt = 0; attempt <= 3; attempt++) {
    const row = await mustGet(env, id);
    const at = nowIso(Math.max(Date.now(), Date.parse(row.updated_at) + 1));
    const values: store.EndpointChanges = {
      sealed_secret: await sealSecret(env, id, secret),
      sealed_previous_secret: expiresIn > 0 ? row.sealed_secret : null,
      previous_secret_expires_at: expiresIn > 0 ? nowIso(Date.parse(at) + expiresIn * 1000) : null,
    };
    const [changed] = await commit(env.DB, [
      store.updateEndpoint(env.DB, id, values, row.updated_at, at),
      insertAuditEvent(env.DB, who, at, audit("webhook.roll_secret", row), IF_CHANGED),
    ]);
    if (changed) return { ...(await getEndpoint(env, id)), secret };
  }
  throw conflict();
}

/** A `webhook.test` event for this endpoint alone; sent like any other (webhook-outbox.ts). */
export async function sendTestEvent(env: Env, id: string): Promise<{ event_id: string }> {
  const row = await mustGet(env, id);
  const eventId = newId("msg");
  await commit(env.DB, [standaloneEvent(env.DB, { id: eventId, type: "webhook.test", organization_id: row.organization_id, at: nowIso(), data: { endpoint: toEndpoint(row) }, endpoint_id: id })]);
  return { event_id: eventId };
}

/** A delivery attempt as the deliveries log shows it. */
export type Delivery = Omit<store.DeliveryRow, "endpoint_id">;

export async function listDeliveries(env: Env, id: string, status: Delivery["status"] | null, limit: number, after: Position | null): Promise<Page<Delivery>> {
  await mustGet(env, id);
  const rows = await store.listDeliveries(env.DB, id, status, limit + 1, after);
  const page = toPage(rows, limit, (row) => ({ time: row.at, id: row.id }));
  return { data: page.data.map(({ endpoint_id: _, ...delivery }) => delivery), next_cursor: page.next_cursor };
}

