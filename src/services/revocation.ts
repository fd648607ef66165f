import { DELETION_MARKER_TTL_SECONDS, TOKEN_REVOCATION_TTL_SECONDS } from "../config";
import { type Marker, markerKey, readMarkers, writeMarker } from "../storage/revocation-markers";

/**
 * The revocation rules. D1 is the authority for secrets; these KV markers make revocation
 * reach tokens already issued and guard every read that might be stale (a D1 replica or a
 * per-isolate cache): the contract's "stale state never wins".
 */

export const revocation = {
  credentialDeleted(kv: KVNamespace, credentialId: string) {
    return writeMarker(kv, markerKey("credential", credentialId), { all: true }, DELETION_MARKER_TTL_SECONDS);
  },
  accountDeleted(kv: KVNamespace, accountId: string) {
    return writeMarker(kv, markerKey("account", accountId), { all: true }, DELETION_MARKER_TTL_SECONDS);
  },
  /** Kept for as long as the account stays deactivated. */
  accountDeactivated(kv: KVNamespace, accountId: string) {
    return writeMarker(kv, markerKey("account", accountId), { all: true }, null);
  },
  /**
   * On reactivation, tokens issued up to the deactivation (rounded up to the whole second) stay
   * dead; the marker lives as long as such a token could.
   */
  accountReactivated(kv: KVNamespace, accountId: string, deactivatedAt: string) {
    const before = Math.ceil(Date.parse(deactivatedAt) / 1000);
    return writeMarker(kv, markerKey("account", accountId), { before }, TOKEN_REVOCATION_TTL_SECONDS);
  },
  /**
   * Tokens the credential issued up to `at` die; its (new) secret lives on. `iat` has whole
   * seconds, so tokens issued in the rest of that second die too: rounding down keeps that
   * window under a second while still catching every token of the old secret.
   */
  credentialTokensRevoked(kv: KVNamespace, credentialId: string, at: string) {
    const before = Math.floor(Date.parse(at) / 1000);
    return writeMarker(kv, markerKey("credential", credentialId), { before }, TOKEN_REVOCATION_TTL_SECONDS);
  },
  tokenRevoked(kv: KVNamespace, jti: string) {
    return writeMarker(kv, markerKey("token", jti), { all: true }, TOKEN_REVOCATION_TTL_SECONDS);
  },
};

/** What a check needs to know about a secret or token: whose it is and, for tokens, when it was issued. */
export interface Subject {
  credentialId: string;
  accountId: string;
  token?: { jti: string; iat: number };
}

function revokes(marker: Marker | null, issuedAt: number | null): boolean {
  if (marker === null) return false;
  if ("all" in marker) return true;
  return issuedAt !== null && issuedAt <= marker.before;
}

/** One bulk KV read; true when any marker revokes this secret or token. */
export async function isRevoked(kv: KVNamespace, subject: Subject): Promise<boolean> {
  const keys = [markerKey("credential", subject.credentialId), markerKey("account", subject.accountId)];
  if (subject.token) keys.push(markerKey("token", subject.token.jti));
  const markers = await readMarkers(kv, keys);
  const issuedAt = subject.token?.iat ?? null;
  return markers.some((marker) => revokes(marker, issuedAt));
}
