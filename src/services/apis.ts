import { settings } from "../config";
import { storedObject } from "../lib/claims";
import { ApiError, invalidField } from "../http/errors";
import { sha256Hex } from "../lib/crypto";
import * as apis from "../storage/apis";
import { type ApiRow, DEFAULT_API_ID } from "../storage/apis";
import { type AuditContext, insertAuditEvent, IF_CHANGED, ifRowExists } from "../storage/audit-events";
import { commit } from "../storage/d1";
import { type ApiEntry, type ApiEntryName, deleteApiEntry, writeApiEntry } from "../storage/edge-entries";
import { type Page, type Position, toPage } from "../storage/pagination";
import { newId, nowIso } from "./ids";
import { eventAfterAudit } from "./webhook-events";
import { revocation } from "./revocation";

/**
 * APIs (RFC 8707 resource servers): each has an identifier that becomes its tokens' `aud`, and
 * the scopes it understands. The default API (`api_default`) is ACCESS_TOKEN_AUDIENCE and takes
 * any scope; a credential's own `scopes` are its grant on it.
 *
 * Each API other than the default has an edge entry in KV (`api:<sha-256 of identifier>`), read
 * with the credential's entry in one bulk read when a token request names it. Written like the
 * credentials' entries: restricted before a change that takes something away commits, published
 * from D1 after it, then read back (docs/architecture.md).
 */

export interface Api {
  id: string;
  name: string;
  identifier: string;
  /** null: the default API, which accepts any scope. */
  scopes: string[] | null;
  /** Claim name → source: the custom claims of its tokens (src/lib/claims.ts); null: none. */
  token_claims: TokenClaims | null;
  created_at: string;
  updated_at: string;
}

/** An API's claim mapping: claim name → source. */
export type TokenClaims = Record<string, string>;

export function toApi(env: Env, row: ApiRow): Api {
  return {
    id: row.id,
    name: row.name,
    identifier: row.identifier ?? settings(env).audience,
    scopes: row.scopes === null ? null : (JSON.parse(row.scopes) as string[]),
    token_claims: row.token_claims === null ? null : (JSON.parse(row.token_claims) as TokenClaims),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** Whether an API id is the default API's: by its id, never by its scopes or identifier. */
export const isDefaultApi = (id: string) => id === DEFAULT_API_ID;

const notFound = () => new ApiError("not_found", "No API has this id.");
const conflict = (what: string, field?: string) => new ApiError("conflict", what, {}, field);

/** The digest an identifier's KV keys are named by (identifiers can be longer than a KV key). */
export const identifierDigest = (identifier: string) => sha256Hex(identifier);

async function mustGet(env: Env, id: string): Promise<ApiRow> {
  const row = await apis.getApi(env.DB, id);
  if (!row) throw notFound();
  return row;
}

/** The edge entry of an API as D1 has it (the default API's identifier is read at run time). */
function apiEntryOf(env: Env, row: ApiRow): ApiEntry {
  const api = toApi(env, row);
  return { id: api.id, name: api.name, identifier: api.identifier, scopes: api.scopes, updated_at: api.updated_at, token_claims: api.token_claims };
}

/**
 * Writes the API's edge entry from D1 (deleted: none), then reads D1 back, as credentials do. The
 * default API's entry (`api:default`) carries its name and claim mapping; its scopes are any.
 */
async function publish(env: Env, api: { id: string; identifier: string | null }): Promise<void> {
  const name: ApiEntryName = api.identifier === null ? "default" : { digest: await identifierDigest(api.identifier) };
  const read = async () => (api.identifier === null ? await apis.getApi(env.DB, api.id) : ((await apis.getApisByIdentifier(env.DB, [api.identifier]))[0] ?? null));
  let current = await read();
  for (let round = 0; round < 3; round++) {
    if (current) await writeApiEntry(env.REVOCATIONS, name, apiEntryOf(env, current));
    else await deleteApiEntry(env.REVOCATIONS, name);
    const again = await read();
    if (JSON.stringify(again) === JSON.stringify(current)) return;
    current = again;
  }
}

export async function createApi(env: Env, who: AuditContext, input: { name: string; identifier: string; scopes: string[]; token_claims?: TokenClaims | null | undefined }): Promise<Api> {
  if (input.identifier === settings(env).audience) throw conflict("This identifier is the default API's.", "identifier");
  const at = nowIso();
  const row: ApiRow = { id: newId("api"), name: input.name, identifier: input.identifier, scopes: JSON.stringify(input.scopes), created_at: at, updated_at: at, token_claims: storedObject(input.token_claims ?? null) };
  const [inserted] = await commit(env.DB, [
    apis.insertApi(env.DB, row),
    insertAuditEvent(env.DB, who, at, { action: "api.create", target_type: "api", target_id: row.id, target_name: row.name }, IF_CHANGED),
    eventAfterAudit(env.DB, "api.created", at, toApi(env, row)),
  ]);
  if (!inserted) throw conflict("Another API has this identifier.", "identifier");
  await publish(env, row);
  return toApi(env, row);
}

export async function getApi(env: Env, id: string): Promise<Api> {
  return toApi(env, await mustGet(env, id));
}

export async function listApis(env: Env, limit: number, after: Position | null): Promise<Page<Api>> {
  const rows = await apis.listApis(env.DB, limit + 1, after);
  const page = toPage(rows, limit, (row) => ({ time: row.created_at, id: row.id }));
  return { data: page.data.map((row) => toApi(env, row)), next_cursor: page.next_cursor };
}

/** How many credentials lose access if this API goes (the console's delete confirmation). */
export function grantCount(env: Env, id: string): Promise<number> {
  return apis.countGrantsOnApi(env.DB, id);
}

export async function updateApi(
  env: Env,
  who: AuditContext,
  id: string,
  changes: { name?: string | undefined; scopes?: string[] | undefined; token_claims?: TokenClaims | null | undefined },
): Promise<Api> {
  if (changes.name === undefined && changes.scopes === undefined && changes.token_claims === undefined) return getApi(env, id);
  if (isDefaultApi(id) && changes.scopes !== undefined) {
    throw invalidField("scopes", "The default API accepts any scope; its scopes cannot be set.");
  }
  for (let attempt = 0; attempt <= 3; attempt++) {
    const row = await mustGet(env, id);
    const at = nowIso(Math.max(Date.now(), Date.parse(row.updated_at) + 1));
    const kept = changes.scopes;
    if (kept && row.identifier !== null) {
      const before = JSON.parse(row.scopes!) as string[];
      // A scope taken away is gone at the edge before D1 commits (fail closed).
      if (before.some((scope) => !kept.includes(scope))) {
        await writeApiEntry(env.REVOCATIONS, { digest: await identifierDigest(row.identifier) }, { ...apiEntryOf(env, row), scopes: before.filter((scope) => kept.includes(scope)), updated_at: at });
      }
    }
    const after: ApiRow = {
      ...row,
      name: changes.name ?? row.name,
      scopes: kept ? JSON.stringify(kept) : row.scopes,
      token_claims: changes.token_claims === undefined ? row.token_claims : storedObject(changes.token_claims),
    };
    const moved = after.name !== row.name || after.scopes !== row.scopes || after.token_claims !== row.token_claims;
    const statements = [
      apis.updateApi(
        env.DB,
        id,
        { name: changes.name ?? null, scopes: kept ? JSON.stringify(kept) : null, token_claims: changes.token_claims === undefined ? undefined : storedObject(changes.token_claims) },
        row.updated_at,
        at,
      ),
      insertAuditEvent(env.DB, who, at, { action: "api.update", target_type: "api", target_id: id, target_name: changes.name ?? row.name }, IF_CHANGED),
      // An edit that changes nothing sends no event (contract "Webhooks").
      ...(moved ? [eventAfterAudit(env.DB, "api.updated", at, { ...toApi(env, after), updated_at: at })] : []),
      // Removing a scope from the API removes it from every grant (the contract).
      ...(kept ? [apis.trimGrantsToApi(env.DB, id, kept)] : []),
    ];
    const [changed] = await commit(env.DB, statements);
    if (changed) {
      await publish(env, row);
      return getApi(env, id);
    }
  }
  throw conflict("Another change to this API kept landing first. Read it again, then retry.");
}

/**
 * Deleting an API is a revocation: its grants go, token requests for it fail, and every token
 * minted for it stops verifying (a marker on its identifier, which outlives those tokens, so
 * re-creating the identifier never revives them).
 */
export async function deleteApi(env: Env, who: AuditContext, id: string): Promise<void> {
  if (isDefaultApi(id)) throw new ApiError("invalid_request", "The default API cannot be deleted.");
  const row = await mustGet(env, id);
  const identifier = row.identifier!;
  const digest = await identifierDigest(identifier);
  // Before the commit (fail closed): no new token for it, and its tokens are dead.
  await revocation.apiDeleted(env.REVOCATIONS, digest, Date.now(), "down");
  await deleteApiEntry(env.REVOCATIONS, { digest });
  const at = nowIso();
  const results = await commit(env.DB, [
    insertAuditEvent(env.DB, who, at, { action: "api.delete", target_type: "api", target_id: id, target_name: row.name }, ifRowExists("apis", id)),
    eventAfterAudit(env.DB, "api.deleted", at, toApi(env, row)),
    apis.deleteGrantsOnApi(env.DB, id),
    apis.deleteApi(env.DB, id),
  ]);
  if (!results[3]) throw notFound();
  // Tokens minted until the commit landed die too; a racing change may have republished the entry.
  await revocation.apiDeleted(env.REVOCATIONS, digest, Date.now(), "up");
  await publish(env, row);
}

/** The API behind an identifier, if any (for grants): one D1 read for up to 100 identifiers. */
export async function apisByIdentifier(env: Env, identifiers: string[]): Promise<Map<string, Api>> {
  const rows = await apis.getApisByIdentifier(env.DB, [...new Set(identifiers)].slice(0, 100));
  return new Map(rows.map((row) => [row.identifier!, toApi(env, row)]));
}

export async function apisById(env: Env, ids: string[]): Promise<Map<string, Api>> {
  const rows = await apis.getApisById(env.DB, [...new Set(ids)].slice(0, 100));
  return new Map(rows.map((row) => [row.id, toApi(env, row)]));
}
