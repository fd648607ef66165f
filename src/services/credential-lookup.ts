import { CREDENTIAL_CACHE_TTL_MS } from "../config";
import { type CredentialWithAccount, findByClientId, findBySecretHash } from "../storage/credentials";
import { credentialState } from "./revocation";

/**
 * Finds the credential behind a presented secret as cheaply as the contract allows
 * ("stale state never wins"):
 *
 *   1. a per-isolate cache of rows, for CREDENTIAL_CACHE_TTL_MS;
 *   2. else D1 through a session that may answer from the nearest read replica;
 *   3. else, when the replica's answer does not let the caller in (not there yet, an old secret,
 *      a deactivated account), the primary: a credential created a second ago works everywhere.
 *
 * Whatever the source, the KV markers are read fresh on every use (one bulk get): they say
 * whether the credential or its account is revoked, and when the credential was last rolled or
 * edited. A cached or replica row older than that is stale and is read again from the primary.
 * Only rows that let the caller in are cached, so a cache entry never lets in anyone the
 * primary would turn away, except within what the markers already cover.
 */

export type LookupKey = { by: "client_id"; clientId: string } | { by: "digest"; digest: string };

export interface Found {
  row: CredentialWithAccount;
  /** A KV marker revokes this credential's secret. */
  revoked: boolean;
}

/** Bounds the cache: an isolate serves many credentials, but not unboundedly many. */
const MAX_CACHED_CREDENTIALS = 5_000;
const cache = new Map<string, { row: CredentialWithAccount; cachedAt: number }>();

const cacheKey = (key: LookupKey) => (key.by === "client_id" ? `c:${key.clientId}` : `d:${key.digest}`);

function read(db: D1Database | D1DatabaseSession, key: LookupKey): Promise<CredentialWithAccount | null> {
  return key.by === "client_id" ? findByClientId(db, key.clientId) : findBySecretHash(db, key.digest);
}

/** A D1 session that may read from the nearest replica (D1 Sessions API). */
function nearest(db: D1Database): D1Database | D1DatabaseSession {
  return typeof db.withSession === "function" ? db.withSession("first-unconstrained") : db;
}

function remember(key: string, row: CredentialWithAccount): void {
  if (cache.size >= MAX_CACHED_CREDENTIALS) cache.delete(cache.keys().next().value!);
  cache.set(key, { row, cachedAt: Date.now() });
}

/**
 * The credential for `key` and whether it is revoked, or null when there is none. `admits`
 * says whether a row lets the caller in (right type, matching secret, active account).
 */
export async function findCredential(env: Env, key: LookupKey, admits: (row: CredentialWithAccount) => boolean): Promise<Found | null> {
  const id = cacheKey(key);
  const cached = cache.get(id);
  // A cached copy that the markers call stale is not worth a replica read: go to the primary.
  let primaryOnly = false;
  if (cached && Date.now() - cached.cachedAt < CREDENTIAL_CACHE_TTL_MS) {
    const state = await credentialState(env.REVOCATIONS, cached.row.id, cached.row.account_id);
    if (state.changedAt === null || state.changedAt <= cached.row.updated_at) return { row: cached.row, revoked: state.revoked };
    cache.delete(id);
    primaryOnly = true;
  }

  let row = primaryOnly ? null : await read(nearest(env.DB), key);
  let fromPrimary = primaryOnly;
  if (!row || !admits(row)) {
    row = await read(env.DB, key);
    fromPrimary = true;
  }
  if (!row) return null;
  let state = await credentialState(env.REVOCATIONS, row.id, row.account_id);
  if (!fromPrimary && state.changedAt !== null && state.changedAt > row.updated_at) {
    const fresh = await read(env.DB, key);
    if (!fresh) return null;
    // Same credential (and account): the markers just read still apply.
    if (fresh.id !== row.id || fresh.account_id !== row.account_id) {
      state = await credentialState(env.REVOCATIONS, fresh.id, fresh.account_id);
    }
    row = fresh;
  }
  if (!state.revoked && admits(row)) remember(id, row);
  return { row, revoked: state.revoked };
}
