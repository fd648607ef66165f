import { CHANGE_MARKER_TTL_SECONDS, DELETION_MARKER_TTL_SECONDS, TOKEN_REVOCATION_TTL_SECONDS } from "../config";
import { type Marker, changeKey, markerKey, readMarkers, writeMarker } from "../storage/revocation-markers";

/**
 * The revocation rules. D1 is the authority for secrets; these KV markers make revocation
 * reach tokens already issued and guard every read that might be stale (a D1 replica or a
 * per-isolate cache): the contract's "stale state never wins".
 *
 * A marker says `all` (every secret and token of the subject is dead) or `before` (tokens issued
 * at or before that second are dead). A credential's `changed:` marker says when it was last
 * rolled or edited (copies of its row older than that are stale), and may carry a `before` too.
 *
 * Deletions write their `revoked:` marker whole and nothing else ever writes it, so a roll or an
 * edit racing a deletion cannot undo it (KV has no compare-and-set).
 */

/** Merges into a credential's `changed:` marker, keeping what it already says. */
async function mergeChangeMarker(kv: KVNamespace, credentialId: string, patch: Marker, ttlSeconds: number): Promise<void> {
  const key = changeKey(credentialId);
  const [current] = await readMarkers(kv, [key]);
  await writeMarker(kv, key, { ...current, ...patch }, ttlSeconds);
}

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
   * A roll or edit at `updatedAt`: copies of the credential older than that (per-isolate caches,
   * D1 replicas) must not be used; the marker outlives any cache entry and replica lag.
   * With `revokeTokens` (a roll with no grace period: the old secret is treated as leaked),
   * tokens issued up to then die too. `iat` has whole seconds, so tokens issued in the rest of
   * that second die as well: rounding down keeps that window under a second while still
   * catching every token of the old secret.
   */
  credentialChanged(kv: KVNamespace, credentialId: string, updatedAt: string, revokeTokens = false) {
    const before = revokeTokens ? { before: Math.floor(Date.parse(updatedAt) / 1000) } : {};
    return mergeChangeMarker(kv, credentialId, { changed: updatedAt, ...before }, CHANGE_MARKER_TTL_SECONDS);
  },
  tokenRevoked(kv: KVNamespace, jti: string) {
    return writeMarker(kv, markerKey("token", jti), { all: true }, TOKEN_REVOCATION_TTL_SECONDS);
  },
};

/** An access token as revocation sees it: whose it is and when it was issued. */
export interface TokenSubject {
  credentialId: string;
  accountId: string;
  jti: string;
  iat: number;
}

function revokes(marker: Marker | null | undefined, issuedAt: number | null): boolean {
  if (!marker) return false;
  if (marker.all) return true;
  return issuedAt !== null && marker.before !== undefined && issuedAt <= marker.before;
}

/** What KV says about a credential presented by its secret, from one bulk read. */
export interface CredentialState {
  /** A marker revokes the credential's secret (deleted, or its account deactivated or deleted). */
  revoked: boolean;
  /** The credential's last roll or edit, if recent: older copies of its row are stale. */
  changedAt: string | null;
}

export async function credentialState(kv: KVNamespace, credentialId: string, accountId: string): Promise<CredentialState> {
  const [credential, account, changed] = await readMarkers(kv, [
    markerKey("credential", credentialId),
    markerKey("account", accountId),
    changeKey(credentialId),
  ]);
  return { revoked: revokes(credential, null) || revokes(account, null), changedAt: changed?.changed ?? null };
}

/** One bulk KV read; true when any marker revokes this access token. */
export async function isTokenRevoked(kv: KVNamespace, token: TokenSubject): Promise<boolean> {
  const markers = await readMarkers(kv, [
    markerKey("credential", token.credentialId),
    markerKey("account", token.accountId),
    markerKey("token", token.jti),
    changeKey(token.credentialId),
  ]);
  return markers.some((marker) => revokes(marker, token.iat));
}
