import { calculateJwkThumbprint, type JWK } from "jose";
import { rotationSettings } from "../config";
import { seal, unseal } from "../lib/sealing";
import {
  type SigningKeyRow,
  deleteSigningKeys,
  insertSigningKeyIfFree,
  listSigningKeys,
  readEdgeSigningKeys,
  writeEdgeSigningKeys,
} from "../storage/signing-keys";

/**
 * ES256 signing keys: made here, private halves encrypted at rest under KEY_ENCRYPTION_KEY.
 *
 * Life of a key (numbers in wrangler.toml vars, see config.ts):
 *   created   published in the JWKS, signs nothing yet (at least PUBLISH_LEAD before it signs)
 *   active    signs every token, for ACTIVE_SECONDS, until the next generation activates
 *   retired   signs nothing; stays in the JWKS for RETIRE_AFTER past its last token
 *   removed   deleted by the cron
 * The first key is made on first use and is active at once (there are no tokens to verify yet).
 *
 * Where the rows are read: the KV copy (`signing-keys`, written whenever the table changes), so a
 * new isolate makes no D1 read; D1 when KV has none, and for an unknown kid (a rotation the copy
 * may not show yet).
 *
 * Per isolate: the rows are cached for KEY_CACHE_SECONDS (far below PUBLISH_LEAD, so every
 * isolate learns of a new key long before it signs), each private key is decrypted and imported
 * once, each public key imported once. A token with an unknown kid triggers at most one reload
 * per UNKNOWN_KID_COOLDOWN_SECONDS.
 */

/** How long an isolate trusts its copy of the key rows. */
export const KEY_CACHE_SECONDS = 300;
/** Never serve a copy older than this: well under the smallest allowed publish lead (10 min). */
export const KEY_CACHE_MAX_STALE_SECONDS = 540;
/** Least time between reloads forced by an unknown kid (so junk tokens cannot hammer D1). */
export const UNKNOWN_KID_COOLDOWN_SECONDS = 10;

const ES256 = { name: "ECDSA", namedCurve: "P-256" } as const;

export interface KeySchedule {
  active: SigningKeyRow | null;
  next: SigningKeyRow | null;
  /** Keys a verifier may meet: the active one, the next one, and recently retired ones. */
  published: SigningKeyRow[];
  /** Retired long enough ago that no token can carry them. */
  expired: SigningKeyRow[];
}

/** Where each key stands at `now` (unix seconds). Rows are ordered by generation. */
export function keySchedule(rows: SigningKeyRow[], now: number, retireAfterSeconds: number): KeySchedule {
  let activeIndex = -1;
  rows.forEach((row, i) => {
    if (row.activates_at <= now) activeIndex = i;
  });
  const published: SigningKeyRow[] = [];
  const expired: SigningKeyRow[] = [];
  rows.forEach((row, i) => {
    const successor = rows[i + 1];
    const retiredSince = successor && successor.activates_at <= now ? successor.activates_at : null;
    (retiredSince !== null && retiredSince + retireAfterSeconds <= now ? expired : published).push(row);
  });
  return { active: rows[activeIndex] ?? null, next: rows[activeIndex + 1] ?? null, published, expired };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

// ---- per-isolate state -------------------------------------------------------------------

interface Cache {
  rows: SigningKeyRow[];
  loadedAt: number;
}
let cache: Cache | undefined;
let loading: Promise<Cache> | undefined;
let lastUnknownKidReload = 0;
const privateKeys = new Map<string, Promise<CryptoKey>>();
const publicKeys = new Map<string, Promise<CryptoKey>>();

/** Forget everything cached in this isolate (tests use it to act as a fresh isolate). */
export function resetSigningKeyCache(): void {
  cache = undefined;
  loading = undefined;
  lastUnknownKidReload = 0;
  privateKeys.clear();
  publicKeys.clear();
}

/**
 * The rows from D1, written through to KV for the isolates that come after. The write-through is
 * best effort: public keys are not revocable, a stale copy is at worst missing a key published
 * an hour ahead, and an unknown kid reloads from D1.
 */
async function loadFromD1(env: Env): Promise<SigningKeyRow[]> {
  const rows = await listSigningKeys(env.DB);
  await writeEdgeSigningKeys(env.REVOCATIONS, rows).catch(() => console.error(JSON.stringify({ event: "signing_keys_edge_write_failed" })));
  return rows;
}

/** The rows, from KV (the edge copy) when it has them, else (or when KV fails) from D1. */
async function load(env: Env, from: "edge" | "d1" = "edge"): Promise<Cache> {
  loading ??= (async () => {
    const edge = from === "edge" ? await readEdgeSigningKeys(env.REVOCATIONS).catch(() => null) : null;
    const rows = edge && edge.length > 0 ? edge : await loadFromD1(env);
    return (cache = { rows, loadedAt: nowSeconds() });
  })().finally(() => (loading = undefined));
  return loading;
}

/** Starts loading the key rows if this isolate has none, so that the load overlaps other reads. */
export function prefetchSigningKeys(env: Env): void {
  if (!cache) load(env).catch(() => {});
}

/**
 * The key rows. A stale copy is still served while a fresh one loads in the background: a key
 * is published PUBLISH_LEAD (an hour or more) before it signs, so a copy a few minutes old is
 * never wrong about which key signs now, and the token path never waits on this read.
 */
async function rows(env: Env): Promise<SigningKeyRow[]> {
  const age = cache ? nowSeconds() - cache.loadedAt : Infinity;
  // Past this age (reloads have kept failing) the copy could miss a rotation: wait for D1.
  if (!cache || age >= KEY_CACHE_MAX_STALE_SECONDS) return (await load(env)).rows;
  if (age >= KEY_CACHE_SECONDS) {
    load(env).catch(() => {}); // retried on the next request if it fails
  }
  return cache.rows;
}

// ---- making keys -------------------------------------------------------------------------

async function newKeyRow(env: Env, generation: number, createdAt: number, activatesAt: number): Promise<SigningKeyRow> {
  const pair = (await crypto.subtle.generateKey(ES256, true, ["sign", "verify"])) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey("jwk", pair.publicKey)) as JsonWebKey;
  const publicJwk = { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! };
  const kid = await calculateJwkThumbprint(publicJwk as JWK);
  const pkcs8 = (await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer;
  return {
    kid,
    generation,
    public_jwk: JSON.stringify(publicJwk),
    encrypted_private_key: await seal(env.KEY_ENCRYPTION_KEY, pkcs8, kid),
    created_at: createdAt,
    activates_at: activatesAt,
  };
}

/** First use: make generation 1, active at once. Racing isolates agree through the UNIQUE guard. */
async function createFirstKey(env: Env): Promise<SigningKeyRow[]> {
  const now = nowSeconds();
  await insertSigningKeyIfFree(env.DB, await newKeyRow(env, 1, now, now));
  return (await load(env, "d1")).rows;
}

async function importPrivateKey(env: Env, row: SigningKeyRow): Promise<CryptoKey> {
  const pkcs8 = await unseal(env.KEY_ENCRYPTION_KEY, row.encrypted_private_key, row.kid);
  return crypto.subtle.importKey("pkcs8", pkcs8, ES256, false, ["sign"]);
}

// ---- what the token service uses ---------------------------------------------------------

export interface Signer {
  kid: string;
  key: CryptoKey;
}

/** The active key, ready to sign: no D1 read and no decryption except on a cache refresh. */
export async function activeSigner(env: Env): Promise<Signer> {
  let current = await rows(env);
  let { active } = keySchedule(current, nowSeconds(), rotationSettings(env).retireAfterSeconds);
  if (!active) {
    current = await createFirstKey(env);
    active = keySchedule(current, nowSeconds(), rotationSettings(env).retireAfterSeconds).active;
    if (!active) throw new Error("no signing key after creating one");
  }
  const row = active;
  let key = privateKeys.get(row.kid);
  if (!key) {
    key = importPrivateKey(env, row);
    privateKeys.set(row.kid, key);
    key.catch(() => privateKeys.delete(row.kid));
  }
  return { kid: row.kid, key: await key };
}

/** The public key for a kid a token names, if it is one we publish; null otherwise. */
export async function verificationKey(env: Env, kid: string): Promise<CryptoKey | null> {
  const retireAfter = rotationSettings(env).retireAfterSeconds;
  const find = (list: SigningKeyRow[]) => keySchedule(list, nowSeconds(), retireAfter).published.find((row) => row.kid === kid);
  let row = find(await rows(env));
  if (!row && nowSeconds() >= lastUnknownKidReload + UNKNOWN_KID_COOLDOWN_SECONDS) {
    lastUnknownKidReload = nowSeconds();
    row = find((await load(env, "d1")).rows);
  }
  if (!row) return null;
  let key = publicKeys.get(kid);
  if (!key) {
    key = crypto.subtle.importKey("jwk", JSON.parse(row.public_jwk) as JsonWebKey, ES256, false, ["verify"]);
    publicKeys.set(kid, key);
  }
  return key;
}

export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y: string;
  kid: string;
  alg: "ES256";
  use: "sig";
}

/** The JWKS document (RFC 7517): every published key. */
export async function jwks(env: Env): Promise<{ keys: PublicJwk[] }> {
  let current = await rows(env);
  if (current.length === 0) current = await createFirstKey(env);
  const { published } = keySchedule(current, nowSeconds(), rotationSettings(env).retireAfterSeconds);
  return {
    keys: published.map((row) => ({ ...(JSON.parse(row.public_jwk) as Omit<PublicJwk, "kid" | "alg" | "use">), kid: row.kid, alg: "ES256", use: "sig" })),
  };
}

/**
 * The cron's job: make the first key if there is none, publish the next key PUBLISH_LEAD before
 * the active one's time is up, and delete keys no token can carry any more.
 */
export async function rotateSigningKeys(env: Env, now = nowSeconds()): Promise<{ created: string | null; removed: string[] }> {
  const { publishLeadSeconds, activeSeconds, retireAfterSeconds } = rotationSettings(env);
  const current = await listSigningKeys(env.DB);
  const plan = keySchedule(current, now, retireAfterSeconds);
  let created: string | null = null;
  if (!plan.active) {
    const row = await newKeyRow(env, 1, now, now);
    await insertSigningKeyIfFree(env.DB, row);
    created = row.kid;
  } else if (!plan.next && now >= plan.active.activates_at + activeSeconds - publishLeadSeconds) {
    const activatesAt = Math.max(now + publishLeadSeconds, plan.active.activates_at + activeSeconds);
    const row = await newKeyRow(env, plan.active.generation + 1, now, activatesAt);
    await insertSigningKeyIfFree(env.DB, row);
    created = row.kid;
  }
  const removed = plan.expired.map((row) => row.kid);
  await deleteSigningKeys(env.DB, removed);
  await loadFromD1(env); // the edge copy follows the table
  cache = undefined; // this isolate reloads on next use
  return { created, removed };
}
