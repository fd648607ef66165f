import { all, first } from "./d1";
import type { Position } from "./pagination";

/**
 * APIs (table `apis`) and credentials' grants on them (table `grants`), migration 0004. The
 * default API's row has identifier and scopes NULL: its identifier is read at run time.
 */
export const DEFAULT_API_ID = "api_default";

export interface ApiRow {
  id: string;
  name: string;
  identifier: string | null;
  /** JSON array; NULL for the default API (any scope). */
  scopes: string | null;
  created_at: string;
  updated_at: string;
  /** JSON {"<claim>": "<source>"}, or NULL (none): migration 0011. */
  token_claims: string | null;
}

const COLUMNS = "id, name, identifier, scopes, created_at, updated_at, token_claims";

/** Inserts the API unless another has its identifier (then no row changes). */
export function insertApi(db: D1Database, row: ApiRow): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO apis (${COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM apis WHERE identifier = ?)`)
    .bind(row.id, row.name, row.identifier, row.scopes, row.created_at, row.updated_at, row.token_claims, row.identifier);
}

export function getApi(db: D1Database, id: string): Promise<ApiRow | null> {
  return first<ApiRow>(db.prepare(`SELECT ${COLUMNS} FROM apis WHERE id = ?`).bind(id));
}

/** APIs by identifier (byte for byte), at most 100. */
export function getApisByIdentifier(db: D1Database, identifiers: string[]): Promise<ApiRow[]> {
  if (identifiers.length === 0) return Promise.resolve([]);
  return all<ApiRow>(db.prepare(`SELECT ${COLUMNS} FROM apis WHERE identifier IN (${identifiers.map(() => "?").join(", ")})`).bind(...identifiers));
}

/** APIs by id, at most 100. */
export function getApisById(db: D1Database, ids: string[]): Promise<ApiRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return all<ApiRow>(db.prepare(`SELECT ${COLUMNS} FROM apis WHERE id IN (${ids.map(() => "?").join(", ")})`).bind(...ids));
}

export function listApis(db: D1Database, limit: number, after: Position | null): Promise<ApiRow[]> {
  const statement = after
    ? db.prepare(`SELECT ${COLUMNS} FROM apis WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`).bind(after.time, after.id, limit)
    : db.prepare(`SELECT ${COLUMNS} FROM apis ORDER BY created_at DESC, id DESC LIMIT ?`).bind(limit);
  return all<ApiRow>(statement);
}

/** Renames, replaces the scopes and/or the claim mapping (`undefined`: unchanged), only if the row is still at `version`. */
export function updateApi(
  db: D1Database,
  id: string,
  changes: { name: string | null; scopes: string | null; token_claims?: string | null | undefined },
  version: string,
  updatedAt: string,
): D1PreparedStatement {
  return db
    .prepare("UPDATE apis SET name = coalesce(?, name), scopes = coalesce(?, scopes), token_claims = CASE WHEN ? THEN ? ELSE token_claims END, updated_at = ? WHERE id = ? AND updated_at = ?")
    .bind(changes.name, changes.scopes, changes.token_claims !== undefined ? 1 : 0, changes.token_claims ?? null, updatedAt, id, version);
}

export function deleteApi(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM apis WHERE id = ?").bind(id);
}

// ---- grants ---------------------------------------------------------------------------------

/** A grant with the API it is on. */
export interface GrantRow {
  credential_id: string;
  api_id: string;
  identifier: string;
  scopes: string;
  /** The API's updated_at: a grant read with it is current for that version of the API. */
  api_updated_at: string;
}

const GRANTS = "SELECT g.credential_id, g.api_id, a.identifier, g.scopes, a.updated_at AS api_updated_at FROM grants g JOIN apis a ON a.id = g.api_id";

/** The grants of these credentials (at most 100 ids). */
export function grantRowsOf(db: D1Database, credentialIds: string[]): Promise<GrantRow[]> {
  if (credentialIds.length === 0) return Promise.resolve([]);
  return all<GrantRow>(db.prepare(`${GRANTS} WHERE g.credential_id IN (${credentialIds.map(() => "?").join(", ")}) ORDER BY a.identifier`).bind(...credentialIds));
}

/** The grants of every credential of an account. */
/** One credential's grant on one API, if any. */
export async function grantScopes(db: D1Database, credentialId: string, apiId: string): Promise<string[] | undefined> {
  const row = await first<{ scopes: string }>(db.prepare("SELECT scopes FROM grants WHERE credential_id = ? AND api_id = ?").bind(credentialId, apiId));
  return row ? (JSON.parse(row.scopes) as string[]) : undefined;
}

export function deleteGrantsOnApi(db: D1Database, apiId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM grants WHERE api_id = ?").bind(apiId);
}

export function grantsOfAccount(db: D1Database, accountId: string): Promise<GrantRow[]> {
  return all<GrantRow>(db.prepare(`${GRANTS} WHERE g.credential_id IN (SELECT id FROM credentials WHERE account_id = ?) ORDER BY a.identifier`).bind(accountId));
}

/** How many credentials have a grant on this API. */
export async function countGrantsOnApi(db: D1Database, apiId: string): Promise<number> {
  return (await first<{ n: number }>(db.prepare("SELECT count(*) AS n FROM grants WHERE api_id = ?").bind(apiId)))?.n ?? 0;
}

/** A new credential's grants: inserted only if the credential row exists (made by this batch). */
export function insertGrants(db: D1Database, credentialId: string, grants: { api_id: string; scopes: string[] }[]): D1PreparedStatement[] {
  return grants.map((grant) =>
    db
      .prepare("INSERT INTO grants (credential_id, api_id, scopes) SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM credentials WHERE id = ?1)")
      .bind(credentialId, grant.api_id, JSON.stringify(grant.scopes)),
  );
}

/**
 * Replaces a credential's grants, in the batch of the edit that set its `updated_at` to
 * `version`: only if that edit landed (an edit that lost its race changes no grant).
 */
export function replaceGrants(db: D1Database, credentialId: string, grants: { api_id: string; scopes: string[] }[], version: string): D1PreparedStatement[] {
  const landed = "EXISTS (SELECT 1 FROM credentials WHERE id = ?1 AND updated_at = ?2)";
  return [
    db.prepare(`DELETE FROM grants WHERE credential_id = ?1 AND ${landed}`).bind(credentialId, version),
    ...grants.map((grant) =>
      db
        .prepare(`INSERT INTO grants (credential_id, api_id, scopes) SELECT ?1, ?3, ?4 WHERE ${landed}`)
        .bind(credentialId, version, grant.api_id, JSON.stringify(grant.scopes)),
    ),
  ];
}

/** Removes scopes the API no longer declares from every grant on it. */
export function trimGrantsToApi(db: D1Database, apiId: string, scopes: string[]): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE grants SET scopes = (SELECT coalesce(json_group_array(value), '[]') FROM json_each(grants.scopes) WHERE value IN (SELECT value FROM json_each(?1)))
       WHERE api_id = ?2`,
    )
    .bind(JSON.stringify(scopes), apiId);
}
