import { ApiError, invalidField } from "../http/errors";
import { type Metadata, storedObject } from "../lib/claims";
import { getAccount as getAccountRow } from "../storage/accounts";
import { type AuditContext, IF_CHANGED, insertAuditEvent } from "../storage/audit-events";
import { getCredentialWithAccount } from "../storage/credentials";
import { commit } from "../storage/d1";
import * as organizations from "../storage/organizations";
import { DEFAULT_ORGANIZATION_ID, type OrganizationRow, type OrganizationStatus } from "../storage/organizations";
import { type Page, type Position, toPage } from "../storage/pagination";
import { DEFAULT_API_ID } from "../storage/apis";
import { apisById, apisByIdentifier } from "./apis";
import { fanOutOrganization } from "./fanout";
import { revocation } from "./revocation";
import { type Grant, namesDefaultApi } from "./audiences";
import { newId, nowIso } from "./ids";
import { eventAfterAudit } from "./webhook-events";
import { deleteEndpointsOfDeletedOrganization } from "../storage/webhooks";

/**
 * Organizations: the customers of the APIs Keymint guards (contract, "Organizations (tenants)").
 * Every account belongs to one; `org_default` holds those created without one and cannot be
 * deleted. An organization's `grants`, when set, are the ceiling on what its credentials get.
 */


export interface Organization {
  id: string;
  name: string;
  external_id: string | null;
  status: OrganizationStatus;
  metadata: Metadata | null;
  /** The ceiling: the APIs open to its credentials and the most they may get there; null: none. */
  grants: Grant[] | null;
  created_at: string;
  updated_at: string;
}

/** A ceiling as stored: by API id, so that the default API's runtime identifier can change. */
interface StoredCeiling {
  api_id: string;
  scopes: string[];
}

export const organizationNotFound = () => new ApiError("not_found", "No organization has this id.");
const notFound = organizationNotFound;
const externalIdTaken = () => new ApiError("conflict", "Another organization has this external_id.", {}, "external_id");


/** The rows as the admin API shows them (one read of the APIs their ceilings name). */
async function presented(env: Env, rows: OrganizationRow[]): Promise<Organization[]> {
  const ceilings = rows.map((row) => (row.grants === null ? null : (JSON.parse(row.grants) as StoredCeiling[])));
  const apis = await apisById(env, ceilings.flatMap((ceiling) => (ceiling ?? []).map((grant) => grant.api_id)));
  return rows.map((row, i) => ({
    id: row.id,
    name: row.name,
    external_id: row.external_id,
    status: row.status,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Metadata),
    // An API deleted since leaves the ceiling with it: nothing can be granted there any more.
    grants: ceilings[i] === null ? null : ceilings[i]!.flatMap((grant) => (apis.has(grant.api_id) ? [{ api: apis.get(grant.api_id)!.identifier, scopes: grant.scopes }] : [])),
    created_at: row.created_at,
    updated_at: row.updated_at,
  }));
}

/** A ceiling as given (API identifiers) → as stored (API ids); the default API may be named too. */
async function resolveCeiling(env: Env, grants: Grant[] | null): Promise<string | null> {
  if (grants === null) return null;
  const known = await apisByIdentifier(env, grants.map((grant) => grant.api).filter((api) => !namesDefaultApi(env, api)));
  const stored = grants.map((grant, i): StoredCeiling => {
    if (namesDefaultApi(env, grant.api)) return { api_id: DEFAULT_API_ID, scopes: grant.scopes };
    const api = known.get(grant.api);
    if (!api) throw invalidField("grants", `grants[${i}].api names no API.`);
    if (grant.scopes.some((scope) => !api.scopes!.includes(scope))) throw invalidField("grants", `grants[${i}] has scopes the API does not declare.`);
    return { api_id: api.id, scopes: grant.scopes };
  });
  return JSON.stringify(stored);
}

/**
 * Why a credential's `scopes` (on the default API) or `grants` (by API id) reach beyond its
 * organization's ceiling (as stored), naming the field; null when they do not.
 */
export function ceilingProblem(stored: string | null, given: { scopes?: string[] | undefined; grants?: StoredCeiling[] | undefined }): { field: string; message: string } | null {
  if (stored === null) return null;
  const ceiling = JSON.parse(stored) as StoredCeiling[];
  const cap = (apiId: string) => ceiling.find((grant) => grant.api_id === apiId);
  const defaultCap = cap(DEFAULT_API_ID);
  if (given.scopes && defaultCap && given.scopes.some((scope) => !defaultCap.scopes.includes(scope))) {
    return { field: "scopes", message: "scopes reach beyond the organization's grant ceiling on the default API." };
  }
  for (const [i, grant] of (given.grants ?? []).entries()) {
    const limit = cap(grant.api_id);
    if (!limit) return { field: "grants", message: `grants[${i}] names an API the organization's grant ceiling does not open.` };
    if (grant.scopes.some((scope) => !limit.scopes.includes(scope))) return { field: "grants", message: `grants[${i}] reaches beyond the organization's grant ceiling.` };
  }
  return null;
}

/** The organization an account or credential belongs to, or null when there is no such thing. */
export async function organizationOf(env: Env, kind: "account" | "credential", id: string): Promise<string | null> {
  if (kind === "account") return (await getAccountRow(env.DB, id))?.organization_id ?? null;
  return (await getCredentialWithAccount(env.DB, id))?.organization_id ?? null;
}

async function mustGet(env: Env, id: string): Promise<OrganizationRow> {
  const row = await organizations.getOrganization(env.DB, id);
  if (!row) throw notFound();
  return row;
}

const audit = (action: string, row: { id: string; name: string }) => ({ action, target_type: "organization" as const, target_id: row.id, target_name: row.name });

export interface OrganizationInput {
  name: string;
  external_id?: string | null | undefined;
  metadata?: Metadata | null | undefined;
  grants?: Grant[] | null | undefined;
}

export async function createOrganization(env: Env, who: AuditContext, input: OrganizationInput): Promise<Organization> {
  const at = nowIso();
  const row: OrganizationRow = {
    id: newId("org"),
    name: input.name,
    external_id: input.external_id ?? null,
    status: "active",
    metadata: storedObject(input.metadata ?? null),
    grants: await resolveCeiling(env, input.grants ?? null),
    created_at: at,
    updated_at: at,
    deactivated_at: null,
  };
  const [shown] = await presented(env, [row]);
  const [inserted] = await commit(env.DB, [
    organizations.insertOrganization(env.DB, row),
    insertAuditEvent(env.DB, who, at, audit("organization.create", row), IF_CHANGED),
    eventAfterAudit(env.DB, "organization.created", at, shown!),
  ]);
  if (!inserted) throw externalIdTaken();
  return shown!;
}

export async function getOrganization(env: Env, id: string): Promise<Organization> {
  return (await presented(env, [await mustGet(env, id)]))[0]!;
}

export async function listOrganizations(env: Env, filter: organizations.OrganizationFilter, limit: number, after: Position | null): Promise<Page<Organization>> {
  const rows = await organizations.listOrganizations(env.DB, filter, limit + 1, after);
  const page = toPage(rows, limit, (row) => ({ time: row.created_at, id: row.id }));
  return { data: await presented(env, page.data), next_cursor: page.next_cursor };
}

/** Edits retried this often when another edit lands between the read and the write; then 409. */
const MAX_EDIT_RETRIES = 3;

export async function updateOrganization(env: Env, who: AuditContext, id: string, changes: Partial<OrganizationInput>): Promise<Organization> {
  if (Object.values(changes).every((value) => value === undefined)) return getOrganization(env, id);
  const values: organizations.OrganizationChanges = {
    ...(changes.name === undefined ? {} : { name: changes.name }),
    ...(changes.external_id === undefined ? {} : { external_id: changes.external_id }),
    ...(changes.metadata === undefined ? {} : { metadata: storedObject(changes.metadata) }),
    ...(changes.grants === undefined ? {} : { grants: await resolveCeiling(env, changes.grants) }),
  };
  for (let attempt = 0; attempt <= MAX_EDIT_RETRIES; attempt++) {
    const row = await mustGet(env, id);
    const at = nowIso(Math.max(Date.now(), Date.parse(row.updated_at) + 1));
    const [changed] = await commit(env.DB, [
      organizations.updateOrganization(env.DB, id, values, row.updated_at, at),
      insertAuditEvent(env.DB, who, at, audit("organization.update", { id, name: changes.name ?? row.name }), IF_CHANGED),
    ]);
    if (changed) {
      // Every field is in the credentials' edge entries: the ceiling bounds their grants, and the
      // name, external_id and metadata are sources of custom claims. A change reaches each entry,
      // so tokens minted after it follow it.
      const moved = (Object.keys(values) as (keyof typeof values)[]).some((field) => values[field] !== row[field]);
      if (moved) await fanOutOrganization(env, id);
      return getOrganization(env, id);
    }
    if (changes.external_id) {
      const holder = await organizations.findByExternalId(env.DB, changes.external_id);
      if (holder && holder.id !== id) throw externalIdTaken();
    }
  }
  throw new ApiError("conflict", "Another change to this organization kept landing first. Read it again, then retry.");
}

/**
 * Deactivation stops every credential of every account in the organization, and every token
 * they minted. The marker goes first (fail closed): every verification path reads it with the
 * token's other markers, at once. Then D1, then the credentials' edge entries, which the token
 * endpoint and API keys read: the first pages before the answer, the rest through the queue.
 */
export async function deactivateOrganization(env: Env, who: AuditContext, id: string): Promise<Organization> {
  if (id === DEFAULT_ORGANIZATION_ID) throw new ApiError("invalid_request", "The default organization cannot be deactivated.");
  const row = await mustGet(env, id);
  await revocation.organizationDeactivated(env.REVOCATIONS, id);
  if (row.status !== "deactivated") {
    const at = nowIso(Math.max(Date.now(), Date.parse(row.updated_at) + 1));
    const [shown] = await presented(env, [{ ...row, status: "deactivated", deactivated_at: at, updated_at: at }]);
    await commit(env.DB, [
      organizations.setOrganizationStatus(env.DB, id, "deactivated", at, at),
      insertAuditEvent(env.DB, who, at, audit("organization.deactivate", row), IF_CHANGED),
      eventAfterAudit(env.DB, "organization.deactivated", at, shown!),
    ]);
    // A racing activation may have written its marker over ours: D1 says deactivated, so KV must too.
    const now = await organizations.getOrganization(env.DB, id);
    if (now?.status === "deactivated") await revocation.assertOrganizationDeactivated(env.REVOCATIONS, id);
  }
  // Also on a repeated deactivation: a retry repairs what a failure left half done.
  await fanOutOrganization(env, id);
  return getOrganization(env, id);
}

/** Activation revives the credentials, never the tokens minted up to the deactivation. */
export async function activateOrganization(env: Env, who: AuditContext, id: string): Promise<Organization> {
  const row = await mustGet(env, id);
  if (row.status === "active") {
    // D1 never saw it deactivated: clear what a deactivation whose D1 write failed left in KV.
    await revocation.organizationReactivated(env.REVOCATIONS, id, null);
    const now = await organizations.getOrganization(env.DB, id);
    if (now?.status === "deactivated") await revocation.assertOrganizationDeactivated(env.REVOCATIONS, id);
    return getOrganization(env, id);
  }
  const at = nowIso(Math.max(Date.now(), Date.parse(row.updated_at) + 1));
  const [shown] = await presented(env, [{ ...row, status: "active", updated_at: at }]);
  const [changed] = await commit(env.DB, [
    // deactivated_at stays: the last deactivation, which ended the sessions opened before it.
    organizations.setOrganizationStatus(env.DB, id, "active", row.deactivated_at, at),
    insertAuditEvent(env.DB, who, at, audit("organization.activate", row), IF_CHANGED),
    eventAfterAudit(env.DB, "organization.activated", at, shown!),
  ]);
  if (changed) {
    await revocation.organizationReactivated(env.REVOCATIONS, id, row.deactivated_at);
    // A deactivation that ran while the marker was on its way wins, and gets its marker back.
    const now = await organizations.getOrganization(env.DB, id);
    if (now?.status === "deactivated") await revocation.assertOrganizationDeactivated(env.REVOCATIONS, id);
    await fanOutOrganization(env, id);
  }
  return getOrganization(env, id);
}

/** Deletes an organization with no accounts; the default one is never deleted. */
export async function deleteOrganization(env: Env, who: AuditContext, id: string): Promise<void> {
  if (id === DEFAULT_ORGANIZATION_ID) throw new ApiError("invalid_request", "The default organization cannot be deleted.");
  const row = await mustGet(env, id);
  const at = nowIso();
  const [shown] = await presented(env, [row]);
  const [, , deleted] = await commit(env.DB, [
    // Written only if the delete below will happen: the row exists and holds no account.
    insertAuditEvent(env.DB, who, at, audit("organization.delete", row), {
      sql: "NOT EXISTS (SELECT 1 FROM accounts WHERE organization_id = ?) AND EXISTS (SELECT 1 FROM organizations WHERE id = ?)",
      values: [id, id],
    }),
    eventAfterAudit(env.DB, "organization.deleted", at, shown!),
    organizations.deleteEmptyOrganization(env.DB, id),
    // Its webhook endpoints go with it (platform endpoints still hear of the deletion).
    deleteEndpointsOfDeletedOrganization(env.DB, id),
  ]);
  if (deleted) return;
  if ((await organizations.getOrganization(env.DB, id)) === null) throw notFound();
  throw new ApiError("conflict", "This organization still has accounts: delete them first.");
}
