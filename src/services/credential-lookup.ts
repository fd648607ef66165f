import { KV_PROPAGATION_SECONDS } from "../config";
import { StoreUnavailableError } from "../http/errors";
import { type CredentialWithAccount, findByClientId, findBySecretHash } from "../storage/credentials";
import { type CredentialEntry, type LookupKey, readEntry } from "../storage/edge-entries";
import type { Deferrer } from "./verification";
import { edgeEntries, entryOf } from "./edge-entries";

/**
 * Finds the credential behind a presented client_id or API key: one KV read of its edge entry
 * (src/storage/edge-entries.ts), which every admin change writes before it answers. No cache:
 * the entry is read fresh on every use, so a deletion, deactivation or edit is seen at once in
 * the location that made it ("stale state never wins").
 *
 * A miss is a credential the edge does not know yet (created within KV's propagation delay in
 * another location, or made before the read model and not yet backfilled) or an unknown value.
 * Only then is D1 read, from the primary, and only within three bounds:
 *   - an id D1 did not know is not asked again by this isolate for NEGATIVE_TTL_MS;
 *   - the caller says whether its IP is over its failure limit: then there is no D1 read;
 *   - at most MISS_READS_PER_SECOND such reads per isolate; past that, 503 (the client retries).
 * A row found that way but older than KV's propagation delay means its entry is missing (not
 * yet backfilled): it is published in the background, so the next use is a plain KV read.
 */

/** Unknown ids this isolate asked D1 about, and until when (ms) it will not ask again. */
const unknown = new Map<string, number>();
const NEGATIVE_TTL_MS = 60_000;
const MAX_UNKNOWN = 10_000;

/** A token bucket per isolate for reads of D1 on a miss. */
export const MISS_READS_PER_SECOND = 50;
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
  /** No D1 read on a miss: the caller's IP is over its failure limit. */
  noMissRead: boolean;
  ctx: Deferrer | undefined;
}

/** The entry for `key`, or null when no credential has it. */
export async function findCredential(env: Env, key: LookupKey, options: LookupOptions): Promise<CredentialEntry | null> {
  const entry = await readEntry(env.REVOCATIONS, key);
  if (entry) return entry;

  const id = idOf(key);
  const until = unknown.get(id);
  if (until !== undefined && until > Date.now()) return null;
  if (options.noMissRead) return null;
  if (!takeMissRead()) throw new StoreUnavailableError("d1", { cause: new Error("miss reads over budget") });

  const row = await (key.by === "client_id" ? findByClientId(env.DB, key.clientId) : findBySecretHash(env.DB, key.digest));
  if (!row) {
    if (unknown.size >= MAX_UNKNOWN) unknown.clear();
    unknown.set(id, Date.now() + NEGATIVE_TTL_MS);
    return null;
  }
  unknown.delete(id);
  heal(env, options.ctx, row);
  return entryOf(row);
}

/** A row older than KV's propagation delay that the edge did not know: publish its entry. */
function heal(env: Env, ctx: Deferrer | undefined, row: CredentialWithAccount): void {
  const age = Date.now() - Date.parse(row.updated_at);
  if (!ctx || age < KV_PROPAGATION_SECONDS * 1000) return;
  const last = healing.get(row.id);
  if (last !== undefined && Date.now() - last < NEGATIVE_TTL_MS) return;
  if (healing.size >= MAX_UNKNOWN) healing.clear();
  healing.set(row.id, Date.now());
  ctx.waitUntil(edgeEntries.publish(env, row).catch(() => healing.delete(row.id)));
}
