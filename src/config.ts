/**
 * The numbers of Keymint's policy (lifetimes, TTLs, caps and budgets), each with the reason for
 * it, and the per-isolate view of the Worker's vars. Nothing here reads storage. Store timeouts
 * live with the stores (src/storage/guarded.ts); numbers that only shape how one module does its
 * work (page and chunk sizes, in-memory bounds) stay next to that work.
 */

/** Access tokens live exactly this long (the contract). */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 60;

/**
 * How far in the future a token's `iat` may be (another machine's clock slightly ahead). `exp`
 * gets no tolerance: a token lives exactly its lifetime. Revocation markers still outlive a
 * token by this much, in case the minting clock ran ahead.
 */
export const CLOCK_SKEW_SECONDS = 10;

/** KV refuses an expirationTtl below 60 seconds. */
export const KV_MIN_TTL_SECONDS = 60;

/**
 * A token revocation must outlive the token it revokes: its lifetime plus the skew we accept.
 * KV's minimum TTL is the floor.
 */
export const TOKEN_REVOCATION_TTL_SECONDS = Math.max(KV_MIN_TTL_SECONDS, ACCESS_TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS);

/**
 * A deleted credential or account leaves a marker for an hour: far longer than any token it
 * minted (60 s), any per-isolate cache entry and any D1 replica lag, so no stale read can
 * resurrect it. After that its D1 row being gone is enough.
 */
export const DELETION_MARKER_TTL_SECONDS = 3_600;

/**
 * A deleted credential's edge entry says "deleted" this long (the contract: at least 30 days),
 * so its failures keep counting against it and no D1 read is needed to turn it away.
 */
export const DELETED_CREDENTIAL_KNOWN_SECONDS = 31 * 86_400;

/**
 * KV can take this long to show a write in other locations (Cloudflare documents "60 seconds or
 * more"). A credential the edge does not know yet may be read from D1 on a miss; see
 * src/services/credential-lookup.ts for what bounds those reads.
 */
export const KV_PROPAGATION_SECONDS = 60;

/**
 * An account has at most this many credentials. Deactivating or deleting it rewrites each of
 * their entries in one Worker invocation, which may make at most 1,000 KV calls: up to two
 * entries per credential (an API key in a roll's grace has two) stays well inside that.
 */
export const MAX_CREDENTIALS_PER_ACCOUNT = 250;

/**
 * On a KV miss, D1 is read at most this often per isolate (a token bucket): a flood of
 * well-formed unknown ids cannot load D1, while a burst of new credentials created elsewhere
 * within KV's propagation delay is still answered. Past it, 503 and the client retries.
 */
export const MISS_READS_PER_SECOND = 50;

/** An id D1 did not know is not asked about again by the same isolate for this long. */
export const NEGATIVE_TTL_MS = 60_000;

/**
 * A PATCH that moves `expires_at` leaves a marker that ends the credential's earlier tokens at
 * the new expiry. It covers tokens minted anywhere until the new edge entry has propagated
 * (KV_PROPAGATION_SECONDS), so it must outlive those by a token's lifetime and skew.
 */
export const EXPIRY_MARKER_TTL_SECONDS = KV_PROPAGATION_SECONDS + TOKEN_REVOCATION_TTL_SECONDS;

/** Request bodies above this are refused with 413 before they are parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * GitHub's secret-scanning reports may be larger (a batch of findings): that route alone takes
 * up to 1 MiB (the contract), about 5,000 findings with long URLs.
 */
export const MAX_SECRET_SCANNING_BODY_BYTES = 1024 * 1024;

/** A name is 1 to this many characters (the contract): enough to tell things apart, short enough for a table row. */
export const MAX_NAME_LENGTH = 100;

/** Longest API identifier: far below URL limits, well above any real API's. */
export const MAX_IDENTIFIER_LENGTH = 2000;

/** Longest id a request may name: ours are 27 characters, so anything longer is no id and is not looked up. */
export const MAX_ID_LENGTH = 64;

/** At most this many scopes in a list (the contract): a token carries its scopes in one `scope` claim. */
export const MAX_SCOPES = 32;

/** At most this many grants per credential (the contract): its edge entry, read on every token request, carries them all. */
export const MAX_GRANTS = 32;

/** An IP allowlist holds 1 to this many CIDRs (the contract): every request is checked against each of them. */
export const MAX_ALLOWED_IPS = 32;

/**
 * An organization-wide change rewrites this many pages of 100 credentials' edge entries in the
 * admin request itself (at most 600 KV writes, inside the 1,000 operations an invocation may
 * make); an organization with more gets the rest from the FANOUT queue, seconds later.
 */
export const FANOUT_INLINE_PAGES = 3;

/** Metadata (the contract) is small: it may travel in edge entries and tokens, which every request reads. */
export const MAX_METADATA_MEMBERS = 16;
export const MAX_METADATA_STRING = 256;
export const MAX_METADATA_BYTES = 1_024;

/** How long the token endpoint waits for the issuance hook (CLAIMS_HOOK_TIMEOUT_MS) unless set. */
export const CLAIMS_HOOK_TIMEOUT_MS_DEFAULT = 50;

/** Longest grace period for a rolled secret, a credential's or a webhook endpoint's: 7 days (the contract). */
export const MAX_ROLL_GRACE_SECONDS = 604_800;

/** Page size bounds for lists (the contract). */
export const PAGE_LIMIT_DEFAULT = 50;
export const PAGE_LIMIT_MAX = 100;

/**
 * ADMIN_TOKEN must be at least this long (the contract). A shorter or empty one is a
 * misconfiguration: nobody gets in with it, and no console session is signed or accepted.
 */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

export function adminTokenUsable(env: Env): boolean {
  return typeof env.ADMIN_TOKEN === "string" && env.ADMIN_TOKEN.length >= MIN_ADMIN_TOKEN_LENGTH;
}

export interface Settings {
  issuer: string;
  audience: string;
}

let cached: { env: Env; settings: Settings } | undefined;

/** The vars, parsed once per isolate (env is the same object for the isolate's life). */
export function settings(env: Env): Settings {
  if (cached?.env === env) return cached.settings;
  const issuer = env.ISSUER.replace(/\/+$/, "");
  const value = { issuer, audience: env.ACCESS_TOKEN_AUDIENCE || issuer };
  cached = { env, settings: value };
  return value;
}

export interface RotationSettings {
  /** A new key is in the JWKS at least this long before it signs. */
  publishLeadSeconds: number;
  /** A key signs for this long. */
  activeSeconds: number;
  /** A retired key stays in the JWKS this long after its last token. */
  retireAfterSeconds: number;
}

/** JWKS responses may be cached this long: well below the publish lead and retire-after times. */
export const JWKS_MAX_AGE_SECONDS = 300;

let rotationCache: { env: Env; value: RotationSettings } | undefined;

function positiveInt(value: string | undefined, fallback: number, minimum: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= minimum ? n : fallback;
}

/** Signing-key rotation numbers from the vars, with the defaults and floors the docs state. */
export function rotationSettings(env: Env): RotationSettings {
  if (rotationCache?.env === env) return rotationCache.value;
  // Floors: a key must be published and retired for longer than any cache of the JWKS lives.
  const floor = JWKS_MAX_AGE_SECONDS * 2;
  const value = {
    publishLeadSeconds: positiveInt(env.SIGNING_KEY_PUBLISH_LEAD_SECONDS, 3_600, floor),
    activeSeconds: positiveInt(env.SIGNING_KEY_ACTIVE_SECONDS, 30 * 86_400, floor),
    retireAfterSeconds: positiveInt(env.SIGNING_KEY_RETIRE_AFTER_SECONDS, 3_600, floor),
  };
  rotationCache = { env, value };
  return value;
}
