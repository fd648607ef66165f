import { guarded } from "./guarded";

/**
 * Revocation markers in KV (binding REVOCATIONS). One key per revoked thing:
 *
 *   revoked:credential:<credential id>   the credential was deleted
 *   revoked:account:<account id>         the account is deactivated, was reactivated, or was deleted
 *   revoked:organization:<org id>        the organization is deactivated, or was reactivated
 *   revoked:token:<jti>                  one access token was revoked (RFC 7009)
 *   revoked:session:<sid>                a console session was signed out
 *   revoked:api:<sha-256 of identifier>  an API was deleted: the tokens minted for it
 *   revoked:expiry:<credential id>       a PATCH moved its expires_at: earlier tokens end then

 *
 * The value (JSON, the Marker type below) says what is revoked: {"all": true} (every secret and
 * token) or {"before": <unix seconds>} (tokens issued at or before that second; secrets are
 * fine), the latter from {"from": <unix seconds>} on when that is given.
 * docs/storage.md lists the TTLs; src/services/revocation.ts decides them.
 */
export interface Marker {
  /** Every secret and token of the subject is revoked. */
  all?: true;
  /** Tokens issued at or before this second (unix) are revoked. */
  before?: number;
  /** With `before`: only from this second (unix) on; until then those tokens are fine. */
  from?: number;
}

export type MarkerSubject = "credential" | "account" | "organization" | "token" | "session" | "api" | "expiry";

export function markerKey(subject: MarkerSubject, id: string): string {
  return `revoked:${subject}:${id}`;
}


/** Reads several markers in one KV operation (bulk get, at most 100 keys). */
export async function readMarkers<T = Marker>(kv: KVNamespace, keys: string[]): Promise<(T | null)[]> {
  const found = await guarded("kv", () => kv.get<T>(keys, "json"));
  return keys.map((key) => found.get(key) ?? null);
}

/** Writes a marker; `ttlSeconds` null keeps it until it is overwritten or removed. */
export async function writeMarker(kv: KVNamespace, key: string, marker: Marker, ttlSeconds: number | null): Promise<void> {
  await guarded(
    "kv",
    () => kv.put(key, JSON.stringify(marker), ttlSeconds === null ? {} : { expirationTtl: ttlSeconds }),
  );
}

/** Removes a marker (a stray one that D1 does not back, e.g. after a failed deactivation). */
export async function deleteMarker(kv: KVNamespace, key: string): Promise<void> {
  await guarded("kv", () => kv.delete(key));
}
