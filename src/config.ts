/**
 * Every number Keymint picks, with the reason for it, and the per-isolate view of the Worker's
 * vars. Nothing here reads storage.
 */

/** Access tokens live exactly this long (the contract). */
export const ACCESS_TOKEN_LIFETIME_SECONDS = 60;

/** Clock difference tolerated when checking `iat`/`nbf`/`exp`. Small: we mint the tokens ourselves. */
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

/** Request bodies above this are refused with 413 before they are parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Page size bounds for lists (the contract). */
export const PAGE_LIMIT_DEFAULT = 50;
export const PAGE_LIMIT_MAX = 100;

/** `last_used_at` is written at most this often per credential. */
export const LAST_USED_INTERVAL_MS = 60_000;

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
