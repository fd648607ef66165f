import { KV_PROPAGATION_SECONDS, MISS_READS_PER_SECOND, NEGATIVE_TTL_MS } from "../config";
import { StoreUnavailableError } from "../storage/guarded";
import { grantRowsOf } from "../storage/apis";
import { findByClientId, findBySecretHash, getCredential } from "../storage/credentials";
import { type ApiEntry, type ApiEntryName, type CredentialEntry, type LookupKey, readEntryAndApi } from "../storage/edge-entries";
import type { Deferrer } from "./deferrer";
import { edgeEntries, entryOf } from "./edge-entries";

/**
 * Finds the credential behind a presented client_id or API key: one KV read of its edge entry
 * (src/storage/edge-entries.ts), which every admin change writes before it answers. No cache:
 * the entry is read fresh on every use, so a deletion, deactivation or edit is seen at once in
 * the location that made it ("stale state never wins").
 *
 * A miss is a credential the edge does not know yet (created within KV's propagation delay in
 * another location, or made before the read model and not yet backfilled) or an unknown value.
 * Only then is D1 read, from the primary, and only within two bounds:
 *   - an id D1 did not know is not asked again by this isolate for NEGATIVE_TTL_MS;
 *   - at most MISS_READS_PER_SECOND such reads per isolate; past that, 503 (the client retries).
 * The caller's IP plays no part: a correct credential whose entry is missing is answered even
 * when its caller's IP is over a failure limit (contract, "Rate limits").
 * A row found that way but older than KV's propagation delay means its entry is missing (not
 * yet backfilled): it is published in the background, so the next use is a plain KV read.
 */

/** Unknown ids this isolate asked D1 about, and until when (ms) it will not ask again. */
const unknown = new Map<string, number>();
const MAX_UNKNOWN = 10_000;

/** A token bucket per isolate for reads of D1 on a miss. */
let bucket = { tokens: MISS_READS_PER_SECOND, at: Date.now() };

function takeMissRead(): boolean {
  const now = Date.now();
  bucket = { tokens: Math.min(MISS_READS_PER_SECOND, bucket.tokens + ((now - bucket.at) / 1000) * MISS_READS_PER_SECOND), at: now };
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

/** Credentials this isolate has asked to publish recently, so a busy one is published once. */
const healing = new Map<string, number>();

const idOf = (key: LookupKey) => (key.by === "client_id" ? `c:${key.clientId}` : `d:${key.digest}`);

export interface LookupOptions {
  ctx: Deferrer | undefined;
  /** The API whose entry is read in the same bulk read: by the digest of its identifier, or the default API's. */
  api: ApiEntryName;
}

export interface Lookup {
  entry: CredentialEntry | null;
  /** The API's entry (null: no API has that identifier; for the default API, none published yet). */
  api: ApiEntry | null;
}

/** The entry for `key` (null when no credential has it), with the API's, in one bulk read. */
export async function findCredential(env: Env, key: LookupKey, options: LookupOptions): Promise<Lookup> {
  const [found, api] = await readEntryAndApi(env.REVOCATIONS, key, options.api);
  return { entry: found ?? (await onMiss(env, key, options)), api };
}

async function onMiss(env: Env, key: LookupKey, options: LookupOptions): Promise<CredentialEntry | null> {
  const id = idOf(key);
  const until = unknown.get(id);
  if (until !== undefined && until > Date.now()) return null;
  if (!takeMissRead()) throw new StoreUnavailableError("d1", { cause: new Error("miss reads over budget") });

  const row = await (key.by === "client_id" ? findByClientId(env.DB, key.clientId) : findBySecretHash(env.DB, key.digest));
  if (!row) {
    if (unknown.size >= MAX_UNKNOWN) unknown.clear();
    unknown.set(id, Date.now() + NEGATIVE_TTL_MS);
    return null;
  }
  unknown.delete(id);
  const grants = await grantRowsOf(env.DB, [row.id]);
  if (Date.now() - Date.parse(row.updated_at) >= KV_PROPAGATION_SECONDS * 1000) healCredential(env, options.ctx, row.id);
  return entryOf({ ...row, grants });
}

/**
 * Publishes a credential's entry in the background: one the edge did not know although it is
 * older than KV's propagation delay (not yet backfilled), or one whose grants are stale. At most
 * once a minute per credential per isolate.
 */
export function healCredential(env: Env, ctx: Deferrer | undefined, credentialId: string): void {
  if (!ctx) return;
  const last = healing.get(credentialId);
  if (last !== undefined && Date.now() - last < NEGATIVE_TTL_MS) return;
  if (healing.size >= MAX_UNKNOWN) healing.clear();
  healing.set(credentialId, Date.now());
  const work = (async () => {
    const row = await getCredential(env.DB, credentialId);
    if (row) await edgeEntries.publish(env, row);
  })();
  ctx.waitUntil(work.catch(() => healing.delete(credentialId)));
}
