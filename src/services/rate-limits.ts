import { ApiError } from "../http/errors";
import { STORE_TIMEOUT_MS, guarded } from "../storage/guarded";

/**
 * Rate limits, on the Workers Rate Limiting binding (wrangler.toml `[[ratelimits]]`).
 *
 * What the binding gives: `limit({ key })` counts one hit and answers yes or no; periods are
 * 10 or 60 seconds; counts are per Cloudflare location and approximate. So a limit here means
 * "about N per period in one location", an attacker spread over many locations gets more, and
 * there is no way to ask "how long until the window resets": Retry-After is the whole period.
 *
 * On the token and verification paths only failures are counted, and they count against what
 * failed (contract "Rate limits", `countFailure`): a known credential's failures against that
 * credential, unknown or malformed values against the caller's IP. A request that passes every
 * check is never refused, so neither a neighbour behind the same IP nor someone who knows a
 * client_id can lock a client out. Malformed values are refused by their checksum before any
 * storage read; what unknown well-formed values cost is in docs/security.md.
 *
 * If the binding itself fails or does not answer within STORE_TIMEOUT_MS.rate_limiter, requests go through
 * (rate limiting is a cost control, never an authentication decision) and the failure is logged.
 */

/** Each binding's period, as configured in wrangler.toml (the binding cannot tell us). */
export const LIMITER_PERIOD_SECONDS = {
  FAILED_CLIENT_AUTH_BY_CLIENT: 60,
  FAILED_AUTH_BY_IP: 60,
  CONSOLE_SIGN_IN_BY_IP: 60,
  ADMIN_WRITES_BY_ACTOR: 10,
} as const;

export type Limiter = keyof typeof LIMITER_PERIOD_SECONDS;
export type LimitKey = readonly [Limiter, string];

/** Refused keys in this isolate → when (ms) they may try again. Bounded so it cannot grow without end. */
const blocked = new Map<string, number>();
const MAX_BLOCKED_KEYS = 10_000;

const id = ([limiter, key]: LimitKey) => `${limiter}:${key}`;

function rateLimited(retryAfter: number): ApiError {
  return new ApiError("rate_limited", "Too many requests; try again later.", { "Retry-After": String(retryAfter) });
}

/** Whether this key was refused recently in this isolate (it is over its limit). No I/O. */
export function isBlocked(key: LimitKey | null): boolean {
  if (key === null || blocked.size === 0) return false;
  const until = blocked.get(id(key));
  return until !== undefined && until > Date.now();
}

/** The caller's IP as a failure-limit key, or null when unknown. */
export function ipKey(ip: string | null): LimitKey | null {
  return ip === null ? null : ["FAILED_AUTH_BY_IP", ip];
}

/** Throws 429 if one of these keys was refused recently in this isolate. No I/O. */
export function assertNotBlocked(keys: readonly LimitKey[]): void {
  if (blocked.size === 0) return;
  const now = Date.now();
  for (const key of keys) {
    const until = blocked.get(id(key));
    if (until === undefined) continue;
    if (until > now) throw rateLimited(Math.ceil((until - now) / 1000));
    blocked.delete(id(key));
  }
}

/**
 * Counts one hit on each key; throws 429 (and remembers the refusal) when any is over its limit.
 * `null` keys (no client IP known, e.g. local development) are skipped.
 */
export async function hit(env: Env, keys: readonly (LimitKey | null)[]): Promise<void> {
  const present = keys.filter((key): key is LimitKey => key !== null);
  const outcomes = await Promise.all(
    present.map(async ([limiter, key]) => {
      try {
        return (await guarded("rate_limiter", () => env[limiter].limit({ key }))).success;
      } catch {
        console.error(JSON.stringify({ event: "rate_limiter_unavailable", limiter }));
        return true;
      }
    }),
  );
  const refused = present.filter((_, i) => !outcomes[i]);
  if (refused.length === 0) return;
  const period = Math.max(...refused.map(([limiter]) => LIMITER_PERIOD_SECONDS[limiter]));
  if (blocked.size >= MAX_BLOCKED_KEYS) blocked.clear();
  for (const key of refused) blocked.set(id(key), Date.now() + LIMITER_PERIOD_SECONDS[key[0]] * 1000);
  throw rateLimited(period);
}

/** The caller's IP as Cloudflare reports it, or null (local development has none). */
export function clientIp(headers: Headers): string | null {
  const ip = headers.get("cf-connecting-ip");
  return ip && ip.length <= 64 ? ip : null;
}

/**
 * A failed authentication on the token or verification paths, counted against what failed: the
 * known credential's key (`failedCredential`), else the caller's IP. Throws 429 once over.
 */
export function countFailure(env: Env, ip: string | null, failedCredential: string | undefined): Promise<void> {
  if (failedCredential !== undefined) return hit(env, [["FAILED_CLIENT_AUTH_BY_CLIENT", failedCredential.slice(0, 64)]]);
  return hit(env, [ipKey(ip)]);
}
