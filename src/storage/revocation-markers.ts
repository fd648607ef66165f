import { guarded } from "./d1";

/**
 * Revocation markers in KV (binding REVOCATIONS). One key per revoked thing:
 *
 *   revoked:credential:<credential id>   the credential was deleted
 *   revoked:account:<account id>         the account is deactivated, was reactivated, or was deleted
 *   revoked:token:<jti>                  one access token was revoked (RFC 7009)
 *   revoked:session:<sid>                a console session was signed out
 *   changed:credential:<credential id>   the credential was rolled or edited at this updated_at
 *                                        (JSON string): cached or replica copies older than
 *                                        that are stale and must be read again from the primary
 *
 * The value says what is revoked: {"all": true} (every secret and token) or
 * {"before": <unix seconds>} (tokens issued at or before that second; secrets are fine).
 * docs/storage.md lists the TTLs; src/services/revocation.ts decides them.
 */
export type Marker = { all: true } | { before: number };

export type MarkerSubject = "credential" | "account" | "token" | "session";

export function markerKey(subject: MarkerSubject, id: string): string {
  return `revoked:${subject}:${id}`;
}

/** KV answers in this long or the request fails closed. */
export const KV_TIMEOUT_MS = 3_000;

export function changeKey(credentialId: string): string {
  return `changed:credential:${credentialId}`;
}

/** Reads several keys in one KV operation (bulk get, at most 100 keys), parsed as JSON. */
export async function readMarkers<T = Marker>(kv: KVNamespace, keys: string[]): Promise<(T | null)[]> {
  const found = await guarded("kv", () => kv.get<T>(keys, "json"), KV_TIMEOUT_MS);
  return keys.map((key) => found.get(key) ?? null);
}

/** Writes a marker (any JSON value); `ttlSeconds` null keeps it until it is overwritten or removed. */
export async function writeMarker(kv: KVNamespace, key: string, marker: Marker | string, ttlSeconds: number | null): Promise<void> {
  await guarded(
    "kv",
    () => kv.put(key, JSON.stringify(marker), ttlSeconds === null ? {} : { expirationTtl: ttlSeconds }),
    KV_TIMEOUT_MS,
  );
}
