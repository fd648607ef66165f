import { DELETED_CREDENTIAL_KNOWN_SECONDS, KV_MIN_TTL_SECONDS, MAX_CREDENTIALS_PER_ACCOUNT } from "../config";
import {
  type CredentialRow,
  type CredentialWithAccount,
  getCredentialWithAccount,
  getCredentialsWithAccount,
  graceRunning,
  listCredentialsAfter,
  listCredentialsOfAccount,
  listCredentialsOfOrganization,
} from "../storage/credentials";
import {
  type CeilingGrant,
  type CredentialEntry,
  type DeletedEntry,
  type LiveEntry,
  type LookupKey,
  deleteEntry,
  entryKey,
  readBackfillState,
  readEntries,
  writeBackfillState,
  writeEntry,
} from "../storage/edge-entries";
import { type GrantRow, grantRowsOf, grantsOfAccount } from "../storage/apis";
import { writeOnceMore } from "../storage/guarded";
import type { Metadata } from "../lib/claims";

/**
 * Keeps the edge read model (src/storage/edge-entries.ts) in step with D1. The rules, and why no
 * interleaving lets stale state win, are in docs/architecture.md ("The edge read model"):
 *
 *   1. Before a change commits, a change that takes something away (delete, deactivate, a scope
 *      removed, a no-grace roll) writes the restricted entry: if D1 then fails, the credential
 *      is already restricted (fail closed), and repeating the change completes it.
 *   2. After the commit, the entry is written again from a fresh read of the D1 primary, and D1
 *      is read once more: if the row moved on in between (another change committed), the newer
 *      state is written. Every change does this after its own commit, so the last write to an
 *      entry is always made from a read taken after the last commit.
 */

/** A row with its grants, as publishers read it from D1. */
export type RowWithGrants = CredentialWithAccount & { grants?: GrantRow[] };

const metadataOf = (json: string | null) => (json === null ? null : (JSON.parse(json) as Metadata));

/** What the hot paths need from a row: never a secret (digests only). */
export function entryOf(row: RowWithGrants): LiveEntry {
  return {
    id: row.id,
    account_id: row.account_id,
    organization_id: row.organization_id,
    ...(row.organization_status === "deactivated" ? { organization_active: false } : {}),
    ...(row.organization_grants === null ? {} : { ceiling: JSON.parse(row.organization_grants) as CeilingGrant[] }),
    type: row.type,
    client_id: row.client_id,
    secret_hash: row.secret_hash,
    previous_secret_hash: row.previous_secret_hash,
    previous_secret_expires_at: row.previous_secret_expires_at,
    scopes: JSON.parse(row.scopes) as string[],
    account_active: row.account_status === "active",
    updated_at: row.updated_at,
    ...(row.token_endpoint_auth_method === "private_key_jwt" ? { jwks: (JSON.parse(row.jwks ?? '{"keys":[]}') as { keys: Record<string, unknown>[] }).keys } : {}),
    ...(row.dpop_bound_access_tokens === 1 ? { dpop_bound: true } : {}),
    expires_at: row.expires_at,
    allowed_ips: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    grants: (row.grants ?? []).map((grant) => ({
      api_id: grant.api_id,
      identifier: grant.identifier,
      scopes: JSON.parse(grant.scopes) as string[],
      api_updated_at: grant.api_updated_at,
    })),
    claim_sources: {
      organization: { name: row.organization_name, external_id: row.organization_external_id, metadata: metadataOf(row.organization_metadata) },
      account: { name: row.account_name, type: row.account_type, metadata: metadataOf(row.account_metadata) },
      credential: { name: row.name, metadata: metadataOf(row.metadata) },
    },
  };
}

/** Attaches each row's grants (one D1 read for up to 100 rows). */
async function withGrants(db: D1Database, rows: CredentialWithAccount[], grants?: GrantRow[]): Promise<RowWithGrants[]> {
  const all = grants ?? (await grantRowsOf(db, rows.map((row) => row.id)));
  return rows.map((row) => ({ ...row, grants: all.filter((grant) => grant.credential_id === row.id) }));
}

export function deletedEntry(row: CredentialRow): DeletedEntry {
  return { id: row.id, account_id: row.account_id, type: row.type, deleted: true };
}

/** The keys a row is found by, each with its TTL (null: kept). */
function lookupKeys(row: CredentialRow): { key: LookupKey; ttl: number | null }[] {
  if (row.type === "oauth_client") return [{ key: { by: "client_id", clientId: row.client_id! }, ttl: null }];
  const keys: { key: LookupKey; ttl: number | null }[] = [{ key: { by: "digest", digest: row.secret_hash }, ttl: null }];
  if (graceRunning(row)) {
    const seconds = Math.ceil((Date.parse(row.previous_secret_expires_at!) - Date.now()) / 1000);
    keys.push({ key: { by: "digest", digest: row.previous_secret_hash! }, ttl: Math.max(KV_MIN_TTL_SECONDS, seconds) });
  }
  return keys;
}

function put(kv: KVNamespace, key: LookupKey, entry: CredentialEntry, ttl: number | null): Promise<void> {
  return writeOnceMore(() => writeEntry(kv, key, entry, ttl));
}

/** The writes that make KV say what `row` says now (null: deleted), for every key `known` or `row` is found by. */
function desired(known: CredentialRow, row: RowWithGrants | null): { key: LookupKey; entry: CredentialEntry | null; ttl: number | null }[] {
  if (row === null) {
    const tombstone = deletedEntry(known);
    return lookupKeys(known).map(({ key }) => ({ key, entry: tombstone, ttl: DELETED_CREDENTIAL_KNOWN_SECONDS }));
  }
  const entry = entryOf(row);
  const keys = lookupKeys(row);
  const live = new Set(keys.map(({ key }) => entryKey(key)));
  // A digest the credential is no longer found by (a roll's old key whose grace is over or none).
  const stale = lookupKeys(known).filter(({ key }) => !live.has(entryKey(key)));
  return [...keys.map(({ key, ttl }) => ({ key, entry, ttl })), ...stale.map(({ key }) => ({ key, entry: null, ttl: null }))];
}

/**
 * Makes KV say what D1 says for these credentials. KV is read first (in bulk) and only what
 * differs is written: KV takes one write per second per key, and the change that publishes has
 * usually just written the same restricted entry before its commit.
 */
async function writeFor(kv: KVNamespace, pairs: { known: CredentialRow; row: RowWithGrants | null }[]): Promise<void> {
  const writes = pairs.flatMap(({ known, row }) => desired(known, row));
  const present = await readEntries(kv, writes.map(({ key }) => key));
  await Promise.all(
    writes.map(({ key, entry, ttl }, i) => {
      if (JSON.stringify(present[i] ?? null) === JSON.stringify(entry)) return;
      return entry === null ? deleteEntry(kv, key) : put(kv, key, entry, ttl);
    }),
  );
}

const sameState = (a: RowWithGrants | null, b: RowWithGrants | null) =>
  JSON.stringify(a && entryOf(a)) === JSON.stringify(b && entryOf(b));

/** Read-back rounds before a publisher leaves the rest to the changes still landing. */
const PUBLISH_ROUNDS = 3;

/**
 * Writes the entries of `known` credentials as D1 has them now (`readNow`: a fresh read of the
 * primary, keyed by id; a missing id is deleted), then reads D1 again and rewrites whatever moved
 * on in between, up to PUBLISH_ROUNDS times.
 */
async function publishRows(env: Env, known: CredentialRow[], readNow: () => Promise<Map<string, RowWithGrants>>): Promise<void> {
  const byId = new Map(known.map((row) => [row.id, row]));
  let current = await readNow();
  for (const row of current.values()) if (!byId.has(row.id)) byId.set(row.id, row);
  let pending = [...byId.keys()];
  for (let round = 0; round < PUBLISH_ROUNDS && pending.length > 0; round++) {
    await writeFor(env.REVOCATIONS, pending.map((id) => ({ known: byId.get(id)!, row: current.get(id) ?? null })));
    const again = await readNow();
    pending = pending.filter((id) => !sameState(current.get(id) ?? null, again.get(id) ?? null));
    for (const id of pending) byId.set(id, current.get(id) ?? byId.get(id)!);
    current = again;
  }
}

const byId = (rows: RowWithGrants[]) => new Map(rows.map((row) => [row.id, row]));

export const edgeEntries = {
  /**
   * Before a change that takes something away commits: the entry as it will be at most
   * (fail closed). `restrict` maps the current entry to the restricted one.
   */
  async restrict(env: Env, known: CredentialWithAccount, restrict: (entry: LiveEntry) => CredentialEntry): Promise<void> {
    const entry = restrict(entryOf(known));
    const ttlOf = (ttl: number | null) => ("deleted" in entry ? DELETED_CREDENTIAL_KNOWN_SECONDS : ttl);
    await Promise.all(lookupKeys(known).map(({ key, ttl }) => put(env.REVOCATIONS, key, entry, ttlOf(ttl))));
  },

  /** After a change to one credential committed: its entry from D1, then read back. */
  publish(env: Env, known: CredentialRow): Promise<void> {
    return publishRows(env, [known], async () => {
      const row = await getCredentialWithAccount(env.DB, known.id);
      return byId(row ? await withGrants(env.DB, [row]) : []);
    });
  },

  /** Before an account's deactivation or deletion commits: restrict every credential's entry. */
  async restrictAccount(env: Env, accountId: string, restrict: (entry: LiveEntry) => CredentialEntry): Promise<CredentialWithAccount[]> {
    const rows = await listCredentialsOfAccount(env.DB, accountId, MAX_CREDENTIALS_PER_ACCOUNT);
    await Promise.all(rows.map((row) => edgeEntries.restrict(env, row, restrict)));
    return rows;
  },

  /** After an account change committed: every credential's entry from D1, then read back. */
  publishAccount(env: Env, accountId: string, known: CredentialRow[]): Promise<void> {
    return publishRows(env, known, async () => {
      const [rows, grants] = await Promise.all([listCredentialsOfAccount(env.DB, accountId, MAX_CREDENTIALS_PER_ACCOUNT), grantsOfAccount(env.DB, accountId)]);
      return byId(await withGrants(env.DB, rows, grants));
    });
  },
};

/** Credentials per backfill or fan-out page (D1 binds at most 100 values; each is one or two KV writes). */
export const BACKFILL_PAGE = 100;

/**
 * One page of an organization's fan-out: the entries of its next BACKFILL_PAGE credentials
 * after `after` (in id order) as D1 has them now, read back like every publisher. Returns the
 * last id, to go on from, or null when the organization has no more.
 */
export async function publishOrganizationPage(env: Env, organizationId: string, after: string | null): Promise<string | null> {
  const rows = await listCredentialsOfOrganization(env.DB, organizationId, after, BACKFILL_PAGE);
  const ids = rows.map((row) => row.id);
  await publishRows(env, rows, async () => byId(await withGrants(env.DB, await getCredentialsWithAccount(env.DB, ids))));
  return rows.length < BACKFILL_PAGE ? null : ids[ids.length - 1]!;
}

/**
 * The one-time backfill: entries for credentials made before the read model existed, a page
 * per cron run, resumable, idempotent (it writes what D1 says now, and reads back like every
 * other publisher).
 */
export async function backfillEdgeEntries(env: Env, pages = 1): Promise<{ written: number; done: boolean }> {
  const state = await readBackfillState(env.REVOCATIONS);
  if (state.done) return { written: 0, done: true };
  let written = 0;
  let after = state.after;
  for (let page = 0; page < pages; page++) {
    const rows = await listCredentialsAfter(env.DB, after, BACKFILL_PAGE);
    const ids = rows.map((row) => row.id);
    // A publisher like any other: written from a read, then read back (a change may have
    // landed in between: a deleted row must not come back to life from this page).
    await publishRows(env, rows, async () => byId(await withGrants(env.DB, await getCredentialsWithAccount(env.DB, ids))));
    written += rows.length;
    if (rows.length < BACKFILL_PAGE) {
      await writeBackfillState(env.REVOCATIONS, { after: null, done: true });
      return { written, done: true };
    }
    after = rows[rows.length - 1]!.id;
    await writeBackfillState(env.REVOCATIONS, { after, done: false });
  }
  return { written, done: false };
}
