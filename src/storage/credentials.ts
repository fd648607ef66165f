import { all, equalities, first } from "./d1";
import { guarded } from "./guarded";
import type { Position } from "./pagination";
import type { AccountStatus } from "./accounts";

export type CredentialType = "oauth_client" | "api_key";

/** A previous secret (of a row or an edge entry) still in its grace period. */
export function graceRunning(row: { previous_secret_hash: string | null; previous_secret_expires_at: string | null }, now = Date.now()): boolean {
  return row.previous_secret_hash !== null && row.previous_secret_expires_at !== null && Date.parse(row.previous_secret_expires_at) > now;
}

export interface CredentialRow {
  id: string;
  account_id: string;
  name: string;
  type: CredentialType;
  client_id: string | null;
  secret_hash: string;
  hint: string;
  previous_secret_hash: string | null;
  previous_secret_expires_at: string | null;
  /** When the previous secret was last used during its grace (to the usage flush); null: not since the roll. */
  previous_secret_last_used_at: string | null;
  /** JSON array of scope strings. */
  scopes: string;
  created_at: string;
  updated_at: string;
  last_used_at: string | null;
  /** RFC 3339; null: never expires. */
  expires_at: string | null;
  /** JSON array of CIDRs; null: from anywhere. */
  allowed_ips: string | null;
  /** Set when a secret scanner reported the secret and the action is `flag`. */
  leaked_at: string | null;
  leak_url: string | null;
  /** How an oauth_client authenticates: with its secret, or with assertions signed by a key of `jwks`. */
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  /** JSON {"keys": [...]}: public keys of a private_key_jwt client; null otherwise. */
  jwks: string | null;
  /** 1: its tokens must be DPoP-bound (RFC 9449 §5.2). */
  dpop_bound_access_tokens: number;
  /** JSON object, or NULL (none): migration 0011. */
  metadata: string | null;
}

export type TokenEndpointAuthMethod = "client_secret_basic" | "private_key_jwt";

/** A credential as the hot paths need it: with its account's status and its organization's, in one read. */
export interface CredentialWithAccount extends CredentialRow {
  account_status: AccountStatus;
  organization_id: string;
  organization_status: "active" | "deactivated";
  /** The organization's grant ceiling as stored (JSON [{api_id, scopes}]), or null: none. */
  organization_grants: string | null;
  /** Names and metadata (JSON or null) of its account and organization: sources of custom claims. */
  account_name: string;
  account_type: "service" | "user";
  account_metadata: string | null;
  organization_name: string;
  organization_external_id: string | null;
  organization_metadata: string | null;
}

const COLUMNS =
  "id, account_id, name, type, client_id, secret_hash, hint, previous_secret_hash, previous_secret_expires_at, previous_secret_last_used_at, scopes, created_at, updated_at, last_used_at, expires_at, allowed_ips, leaked_at, leak_url, token_endpoint_auth_method, jwks, dpop_bound_access_tokens, metadata";
const JOINED = `SELECT ${COLUMNS
  .split(", ")
  .map((column) => `c.${column}`)
  .join(", ")}, a.status AS account_status, a.organization_id, o.status AS organization_status, o.grants AS organization_grants,
  a.name AS account_name, a.type AS account_type, a.metadata AS account_metadata,
  o.name AS organization_name, o.external_id AS organization_external_id, o.metadata AS organization_metadata
  FROM credentials c JOIN accounts a ON a.id = c.account_id JOIN organizations o ON o.id = a.organization_id`;

/**
 * Credentials whose `expires_at` is in (from, to] and that have no webhook event with the key
 * `<noticeKey>:<id>:<expires_at>` yet, for which an enabled endpoint subscribes to `type` (the
 * cron's expiry notices): the soonest first, at most `limit`.
 */
export function credentialsDueNotice(db: D1Database, window: { from: string; to: string }, type: string, noticeKey: string, limit: number): Promise<CredentialWithAccount[]> {
  return all<CredentialWithAccount>(
    db
      .prepare(
        `${JOINED} WHERE c.expires_at > ?1 AND c.expires_at <= ?2
           AND NOT EXISTS (SELECT 1 FROM webhook_events e WHERE e.dedupe_key = ?3 || ':' || c.id || ':' || c.expires_at)
           AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.status = 'enabled' AND (w.organization_id IS NULL OR w.organization_id = a.organization_id)
             AND (w.events = '["*"]' OR EXISTS (SELECT 1 FROM json_each(w.events) WHERE value = ?4)))
         ORDER BY c.expires_at LIMIT ?5`,
      )
      .bind(window.from, window.to, noticeKey, type, limit),
  );
}

/**
 * Records the credential's organization (its account's), in the batch that creates it, for
 * usage that outlives it. Written only if the credential row exists by then.
 */
export function insertCredentialOrganization(db: D1Database, credentialId: string, accountId: string): D1PreparedStatement {
  return db
    .prepare("INSERT OR IGNORE INTO credential_organizations (credential_id, organization_id) SELECT c.id, a.organization_id FROM credentials c JOIN accounts a ON a.id = c.account_id WHERE c.id = ? AND a.id = ?")
    .bind(credentialId, accountId);
}

/** Inserts a credential; with `onlyIfPreviousChanged`, only when the batch's previous statement changed a row. */
export function insertCredential(db: D1Database, row: CredentialRow, onlyIfPreviousChanged = false): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO credentials (${COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?${onlyIfPreviousChanged ? " WHERE changes() > 0" : ""}`,
    )
    .bind(
      row.id,
      row.account_id,
      row.name,
      row.type,
      row.client_id,
      row.secret_hash,
      row.hint,
      row.previous_secret_hash,
      row.previous_secret_expires_at,
      row.previous_secret_last_used_at,
      row.scopes,
      row.created_at,
      row.updated_at,
      row.last_used_at,
      row.expires_at,
      row.allowed_ips,
      row.leaked_at,
      row.leak_url,
      row.token_endpoint_auth_method,
      row.jwks,
      row.dpop_bound_access_tokens,
      row.metadata,
    );
}

export function getCredential(db: D1Database | D1DatabaseSession, id: string): Promise<CredentialRow | null> {
  return first<CredentialRow>(db.prepare(`SELECT ${COLUMNS} FROM credentials WHERE id = ?`).bind(id));
}

export function findByClientId(db: D1Database | D1DatabaseSession, clientId: string): Promise<CredentialWithAccount | null> {
  return first<CredentialWithAccount>(db.prepare(`${JOINED} WHERE c.client_id = ?`).bind(clientId));
}

/** The credential whose current or (still unexpired) previous secret has this digest. */
export function findBySecretHash(db: D1Database | D1DatabaseSession, hash: string): Promise<CredentialWithAccount | null> {
  return first<CredentialWithAccount>(
    db.prepare(`${JOINED} WHERE c.secret_hash = ?1 OR c.previous_secret_hash = ?1 LIMIT 1`).bind(hash),
  );
}

/**
 * D1 binds at most 100 parameters per statement: 99 digests (each bound once, as ?1…?99, and used
 * in both IN lists) and the moment that decides whether a grace is still running.
 */
export const DIGESTS_PER_STATEMENT = 99;

/** A credential found by one of a batch of digests: which of its secrets matched. */
export interface CredentialByDigest {
  id: string;
  name: string;
  secret_hash: string;
  /** Only while its grace runs (`now` < previous_secret_expires_at); null otherwise. */
  previous_secret_hash: string | null;
}

/**
 * The credentials whose current secret, or previous secret still in its grace at `now`, has one
 * of these digests. One D1 round trip (a batch of read statements) whatever their number; a
 * deleted credential is not found, an expired one is.
 */
export async function findByDigests(db: D1Database, digests: string[], now: string): Promise<CredentialByDigest[]> {
  const unique = [...new Set(digests)];
  if (unique.length === 0) return [];
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < unique.length; i += DIGESTS_PER_STATEMENT) {
    const chunk = unique.slice(i, i + DIGESTS_PER_STATEMENT);
    const list = chunk.map((_, j) => `?${j + 1}`).join(", ");
    const at = `?${chunk.length + 1}`;
    statements.push(
      db
        .prepare(
          `SELECT id, name, secret_hash,
             CASE WHEN previous_secret_expires_at > ${at} THEN previous_secret_hash END AS previous_secret_hash
           FROM credentials
           WHERE secret_hash IN (${list}) OR (previous_secret_hash IN (${list}) AND previous_secret_expires_at > ${at})`,
        )
        .bind(...chunk, now),
    );
  }
  const results = await guarded("d1", () => db.batch<CredentialByDigest>(statements));
  return results.flatMap((result) => result.results);
}

/** The credential with its account's status, from the primary: what the edge entry is made from. */
export function getCredentialWithAccount(db: D1Database, id: string): Promise<CredentialWithAccount | null> {
  return first<CredentialWithAccount>(db.prepare(`${JOINED} WHERE c.id = ?`).bind(id));
}

/** These credentials (at most 100 ids), with their accounts' status; missing ids are left out. */
export function getCredentialsWithAccount(db: D1Database, ids: string[]): Promise<CredentialWithAccount[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return all<CredentialWithAccount>(db.prepare(`${JOINED} WHERE c.id IN (${ids.map(() => "?").join(", ")})`).bind(...ids));
}

/** Every credential of an account (at most `limit`), with the account's status. */
export function listCredentialsOfAccount(db: D1Database, accountId: string, limit: number): Promise<CredentialWithAccount[]> {
  return all<CredentialWithAccount>(db.prepare(`${JOINED} WHERE c.account_id = ? ORDER BY c.id LIMIT ?`).bind(accountId, limit));
}

/** How many credentials an account has (the per-account cap; an account's delete page says how many go with it). */
export async function countCredentialsOfAccount(db: D1Database, accountId: string): Promise<number> {
  const row = await first<{ n: number }>(db.prepare("SELECT count(*) AS n FROM credentials WHERE account_id = ?").bind(accountId));
  return row?.n ?? 0;
}

/** Credentials in id order after `afterId`: pages of the edge backfill. */
/** An organization's credentials in id order after `afterId`: pages of its fan-out. */
export function listCredentialsOfOrganization(db: D1Database, organizationId: string, afterId: string | null, limit: number): Promise<CredentialWithAccount[]> {
  return all<CredentialWithAccount>(db.prepare(`${JOINED} WHERE a.organization_id = ? AND c.id > ? ORDER BY c.id LIMIT ?`).bind(organizationId, afterId ?? "", limit));
}

export function listCredentialsAfter(db: D1Database, afterId: string | null, limit: number): Promise<CredentialWithAccount[]> {
  return all<CredentialWithAccount>(db.prepare(`${JOINED} WHERE c.id > ? ORDER BY c.id LIMIT ?`).bind(afterId ?? "", limit));
}

export interface CredentialFilter {
  account_id: string | null;
  /** Only credentials of this organization's accounts. */
  organization_id?: string | null;
  type: CredentialType | null;
  /** Only credentials that expire before this moment (RFC 3339). */
  expires_before?: string | null;
}

export function listCredentials(
  db: D1Database,
  filter: CredentialFilter,
  limit: number,
  after: Position | null,
): Promise<CredentialRow[]> {
  const { conditions, values } = equalities({ account_id: filter.account_id, type: filter.type });
  if (filter.organization_id) {
    conditions.push("account_id IN (SELECT id FROM accounts WHERE organization_id = ?)");
    values.push(filter.organization_id);
  }
  if (filter.expires_before) {
    conditions.push("expires_at IS NOT NULL AND expires_at < ?");
    values.push(filter.expires_before);
  }
  if (after) {
    conditions.push("(created_at, id) < (?, ?)");
    values.push(after.time, after.id);
  }
  const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
  return all<CredentialRow>(
    db
      .prepare(`SELECT ${COLUMNS} FROM credentials ${where} ORDER BY created_at DESC, id DESC LIMIT ?`)
      .bind(...values, limit),
  );
}

/** What an edit may set; absent fields are kept (null sets a nullable field to null). */
export interface CredentialChanges {
  name?: string;
  scopes?: string;
  expires_at?: string | null;
  allowed_ips?: string | null;
  jwks?: string;
  dpop_bound_access_tokens?: number;
  metadata?: string | null;
}

/**
 * Edits a credential, only if the row is still at `version` (its updated_at when it was read):
 * an edit that lost a race changes nothing, and the caller reads again.
 */
export function updateCredential(db: D1Database, id: string, changes: CredentialChanges, version: string, updatedAt: string): D1PreparedStatement {
  const fields = (["name", "scopes", "expires_at", "allowed_ips", "jwks", "dpop_bound_access_tokens", "metadata"] as const).filter((field) => changes[field] !== undefined);
  const sets = [...fields.map((field) => `${field} = ?`), "updated_at = ?"].join(", ");
  return db
    .prepare(`UPDATE credentials SET ${sets} WHERE id = ? AND updated_at = ?`)
    .bind(...fields.map((field) => changes[field] ?? null), updatedAt, id, version);
}

/**
 * Marks a credential's secret as reported leaked (the `flag` action). A report of the same leak
 * again (the same URL, a replayed report) changes nothing, so its audit event is not repeated.
 */
export function flagLeaked(db: D1Database, id: string, at: string, url: string | null): D1PreparedStatement {
  return db
    .prepare("UPDATE credentials SET leaked_at = ?1, leak_url = ?2 WHERE id = ?3 AND (leaked_at IS NULL OR leak_url IS NOT ?2)")
    .bind(at, url, id);
}

/**
 * Replaces the secret; the old digest stays valid until `previousExpiresAt` (or not at all when
 * null). Only if the row is still at `version`, like updateCredential.
 */
export function rollSecret(
  db: D1Database,
  id: string,
  secret: { hash: string; hint: string },
  previousExpiresAt: string | null,
  version: string,
  updatedAt: string,
  onlyIfPreviousChanged = false,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE credentials SET
         previous_secret_hash = CASE WHEN ?1 IS NULL THEN NULL ELSE secret_hash END,
         previous_secret_expires_at = ?1, previous_secret_last_used_at = NULL,
         secret_hash = ?2, hint = ?3, updated_at = ?4, leaked_at = NULL, leak_url = NULL
       WHERE id = ?5 AND updated_at = ?6${onlyIfPreviousChanged ? " AND changes() > 0" : ""}`,
    )
    .bind(previousExpiresAt, secret.hash, secret.hint, updatedAt, id, version);
}

/** Clears previous secrets whose grace period has ended (run from the cron). */
export function clearExpiredPreviousSecrets(db: D1Database, now: string): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE credentials SET previous_secret_hash = NULL, previous_secret_expires_at = NULL, previous_secret_last_used_at = NULL WHERE previous_secret_expires_at <= ?",
    )
    .bind(now);
}

export function deleteCredential(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM credentials WHERE id = ?").bind(id);
}

export function deleteCredentialsOfAccount(db: D1Database, accountId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM credentials WHERE account_id = ?").bind(accountId);
}

/**
 * Records use, from the usage pipeline: `last_used_at` only moves forward, and only when the
 * stored one is older than `notSince` (a row written per credential every few minutes, not per
 * flush: the statement that matches nothing writes nothing).
 */
export function recordLastUsed(db: D1Database, id: string, at: string, notSince: string): D1PreparedStatement {
  return db
    .prepare("UPDATE credentials SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)")
    .bind(at, id, notSince);
}

/**
 * Records a use of the previous secret during its grace, from the usage pipeline. The grace is
 * named by its `previous_secret_expires_at`, so a use counted before a later roll (or the end of
 * the grace) never lands on the next previous secret. Only moves forward.
 */
export function recordPreviousSecretUsed(db: D1Database, id: string, at: string, graceEnds: string): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE credentials SET previous_secret_last_used_at = ?1
       WHERE id = ?2 AND previous_secret_expires_at = ?3 AND (previous_secret_last_used_at IS NULL OR previous_secret_last_used_at < ?1)`,
    )
    .bind(at, id, graceEnds);
}
