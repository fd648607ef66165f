import type { Metadata } from "../lib/claims";
import type { CredentialType } from "./credentials";
import { guarded } from "./guarded";

/**
 * The edge read model: one KV value per lookup key, holding everything the token and API-key
 * paths need to decide, so that they make one KV read and no D1 call.
 *
 *   credential:client_id:<client_id>   an OAuth client, found by the client_id it presents
 *   credential:digest:<sha-256 hex>    an API key, found by the digest of the key it presents
 *                                      (during a roll's grace, also under the previous digest)
 *
 * Written by src/services/edge-entries.ts in two ways: restricted (what a change takes away:
 * deletion, deactivation, fewer scopes, an earlier expiry) before the D1 commit, so a change that
 * fails half-way fails closed; and published from a D1 read after the commit (also by the
 * backfill, and on a miss that finds a row older than KV's propagation delay). The KV namespace
 * is the one that holds the revocation markers (binding REVOCATIONS).
 */

export type LookupKey = { by: "client_id"; clientId: string } | { by: "digest"; digest: string };

export function entryKey(key: LookupKey): string {
  return key.by === "client_id" ? `credential:client_id:${key.clientId}` : `credential:digest:${key.digest}`;
}

/** One API of an organization's grant ceiling, by id (the default API's is `api_default`). */
export interface CeilingGrant {
  api_id: string;
  scopes: string[];
}

/** A grant on an API other than the default one, as the entry carries it. */
export interface EntryGrant {
  api_id: string;
  identifier: string;
  scopes: string[];
  /** The API's updated_at when the entry was written: an API changed since makes the grant stale. */
  api_updated_at: string;
}

/**
 * Names and metadata of a credential, its account and its organization: the sources of custom
 * claims (an API's `token_claims`) and what the issuance hook is shown. Never a secret.
 */
export interface EntryClaimSources {
  organization: { name: string; external_id: string | null; metadata: Metadata | null };
  account: { name: string; type: "service" | "user"; metadata: Metadata | null };
  credential: { name: string; metadata: Metadata | null };
}

/** What a check needs, from the credential's row and its account's. Never a secret. */
export interface LiveEntry {
  id: string;
  account_id: string;
  /** Its account's organization (absent in entries written before organizations: org_default). */
  organization_id?: string;
  /** False while that organization is deactivated (absent: active). */
  organization_active?: boolean;
  /** That organization's grant ceiling (absent or null: none). */
  ceiling?: CeilingGrant[] | null;
  type: CredentialType;
  client_id: string | null;
  /** SHA-256 hex digests; "" matches nothing (a no-grace roll in progress). */
  secret_hash: string;
  previous_secret_hash: string | null;
  previous_secret_expires_at: string | null;
  scopes: string[];
  account_active: boolean;
  /** The credential row's updated_at when this entry was made from it. */
  updated_at: string;
  /** Grants on APIs other than the default one (absent in entries written before APIs existed). */
  grants?: EntryGrant[];
  /** After this moment the credential authenticates nowhere (absent or null: never). */
  expires_at?: string | null;
  /** CIDRs it may be used from (absent or null: anywhere; []: nowhere, while an allowlist changes). */
  allowed_ips?: string[] | null;
  /** A private_key_jwt client: the public keys its assertions must be signed by. */
  jwks?: Record<string, unknown>[];
  /** Its tokens must be DPoP-bound. */
  dpop_bound?: boolean;
  /** Absent in entries written before custom claims: read from D1 when a mapping needs them. */
  claim_sources?: EntryClaimSources;
}

/**
 * An API's entry, under `api:<sha-256 hex of its identifier>` (the default API's under
 * `api:default`): read in the same bulk read as the credential's, so the grant check and the
 * API's claim mapping cost no round trip.
 */
export interface ApiEntry {
  id: string;
  /** Absent in entries written before custom claims. */
  name?: string;
  identifier: string;
  /** null: the default API, which takes any scope. */
  scopes: string[] | null;
  updated_at: string;
  /** The API's claim mapping (absent or null: none). */
  token_claims?: Record<string, string> | null;
}

/** Which API entry a bulk read fetches: one by the digest of its identifier, or the default API's. */
export type ApiEntryName = { digest: string } | "default";

export const apiEntryKey = (name: ApiEntryName) => (name === "default" ? "api:default" : `api:${name.digest}`);

/**
 * A deleted credential: it stays known (its failures count against it, contract "Rate limits")
 * and a D1 read is never needed to turn it away.
 */
export interface DeletedEntry {
  id: string;
  account_id: string;
  type: CredentialType;
  deleted: true;
}

export type CredentialEntry = LiveEntry | DeletedEntry;

export const isDeleted = (entry: CredentialEntry): entry is DeletedEntry => "deleted" in entry;

/** The credential's entry and an API's, in one bulk KV read. */
export async function readEntryAndApi(kv: KVNamespace, key: LookupKey, api: ApiEntryName): Promise<[CredentialEntry | null, ApiEntry | null]> {
  const names = [entryKey(key), apiEntryKey(api)];
  const found = await guarded("kv", () => kv.get<CredentialEntry | ApiEntry>(names, "json"));
  return [(found.get(names[0]!) as CredentialEntry | null) ?? null, (found.get(names[1]!) as ApiEntry | null) ?? null];
}

export async function writeApiEntry(kv: KVNamespace, api: ApiEntryName, entry: ApiEntry): Promise<void> {
  await guarded("kv", () => kv.put(apiEntryKey(api), JSON.stringify(entry)));
}

export async function deleteApiEntry(kv: KVNamespace, api: ApiEntryName): Promise<void> {
  await guarded("kv", () => kv.delete(apiEntryKey(api)));
}

/** Several entries, in bulk reads of up to 100 keys (one KV operation each). */
export async function readEntries(kv: KVNamespace, keys: LookupKey[]): Promise<(CredentialEntry | null)[]> {
  const names = keys.map(entryKey);
  const found = new Map<string, CredentialEntry | null>();
  for (let i = 0; i < names.length; i += 100) {
    const chunk = names.slice(i, i + 100);
    const page = await guarded("kv", () => kv.get<CredentialEntry>(chunk, "json"));
    for (const [name, value] of page) found.set(name, value);
  }
  return names.map((name) => found.get(name) ?? null);
}

/** Writes one entry; `ttlSeconds` null keeps it until it is overwritten or removed. */
export async function writeEntry(kv: KVNamespace, key: LookupKey, entry: CredentialEntry, ttlSeconds: number | null): Promise<void> {
  await guarded(
    "kv",
    () => kv.put(entryKey(key), JSON.stringify(entry), ttlSeconds === null ? {} : { expirationTtl: ttlSeconds }),
  );
}

export async function deleteEntry(kv: KVNamespace, key: LookupKey): Promise<void> {
  await guarded("kv", () => kv.delete(entryKey(key)));
}

/** Progress of the one-time backfill of entries for credentials made before the read model. */
const BACKFILL_KEY = "backfill:edge-entries";
export interface BackfillState {
  /** The last credential id written, or null before the first page. */
  after: string | null;
  done: boolean;
}

export async function readBackfillState(kv: KVNamespace): Promise<BackfillState> {
  return (await guarded("kv", () => kv.get<BackfillState>(BACKFILL_KEY, "json"))) ?? { after: null, done: false };
}

export async function writeBackfillState(kv: KVNamespace, state: BackfillState): Promise<void> {
  await guarded("kv", () => kv.put(BACKFILL_KEY, JSON.stringify(state)));
}
