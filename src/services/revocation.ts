import { CHANGE_MARKER_TTL_SECONDS, DELETION_MARKER_TTL_SECONDS, TOKEN_REVOCATION_TTL_SECONDS } from "../config";
import { type Marker, deleteMarker, markerKey, readMarkers, writeMarker } from "../storage/revocation-markers";

/**
 * The revocation rules. D1 is the authority for secrets; these KV markers make revocation
 * reach tokens already issued and guard every read that might be stale (a D1 replica or a
 * per-isolate cache): the contract's "stale state never wins".
 *
 * A marker says `all` (every secret and token of the subject is dead) or `before` (tokens issued
 * at or before that second are dead); a credential's marker also says `changed` (its
 * updated_at at the last roll or edit: copies of its row older than that are stale). One key
 * per credential keeps the hot paths at one small bulk read.
 *
 * Rolls and edits merge into that key (read, merge, write) and KV has no compare-and-set, so an
 * edit racing a deletion could write over the deletion's `all`. Both sides repair that: a
 * deletion reads its marker back after its D1 commit, and an edit that finds its row gone
 * re-asserts the deletion (`assertCredentialDeleted`). For secrets the race was harmless anyway:
 * any `changed` newer than a cached row sends the lookup to D1, where the row is gone.
 * Account activation and deactivation race the same way on the account's key and are repaired
 * the same way: each side re-reads the other's result after its own write.
 */

/** KV takes one write per second per key; a repair that follows another write waits this long. */
const KV_SAME_KEY_WRITE_GAP_MS = 1_100;

/**
 * Writes a credential's marker, keeping what it already says. A deleted credential's is final,
 * and `changed` and `before` only move forward: a stalled older edit that writes last must not
 * make a newer cached copy look fresh, nor shorten a revocation.
 */
async function mergeCredentialMarker(kv: KVNamespace, credentialId: string, patch: Marker, ttlSeconds: number): Promise<void> {
  const key = markerKey("credential", credentialId);
  const [current] = await readMarkers(kv, [key]);
  if (current?.all) return;
  const merged: Marker = { ...current, ...patch };
  if (current?.changed !== undefined && patch.changed !== undefined && current.changed > patch.changed) merged.changed = current.changed;
  if (current?.before !== undefined) merged.before = Math.max(current.before, patch.before ?? 0);
  try {
    await writeMarker(kv, key, merged, ttlSeconds);
  } catch {
    // KV takes one write per second per key: an edit retried after losing a race can hit that.
    await scheduler.wait(KV_SAME_KEY_WRITE_GAP_MS);
    await writeMarker(kv, key, merged, ttlSeconds);
  }
}

/** Re-writes {"all": true} unless the marker already says it (the repair after a race). */
async function reassertAll(kv: KVNamespace, key: string, ttlSeconds: number | null): Promise<void> {
  const [current] = await readMarkers(kv, [key]);
  if (current?.all) return;
  try {
    await writeMarker(kv, key, { all: true }, ttlSeconds);
  } catch {
    await scheduler.wait(KV_SAME_KEY_WRITE_GAP_MS);
    await writeMarker(kv, key, { all: true }, ttlSeconds);
  }
}

export const revocation = {
  credentialDeleted(kv: KVNamespace, credentialId: string) {
    return writeMarker(kv, markerKey("credential", credentialId), { all: true }, DELETION_MARKER_TTL_SECONDS);
  },
  /**
   * After a deletion's D1 commit (or when an edit finds its row deleted): make sure the marker
   * still says `all`, in case a racing edit's merge landed over it.
   */
  assertCredentialDeleted(kv: KVNamespace, credentialId: string) {
    return reassertAll(kv, markerKey("credential", credentialId), DELETION_MARKER_TTL_SECONDS);
  },
  /** The same for an account that D1 says is deactivated, after a racing activation's write. */
  assertAccountDeactivated(kv: KVNamespace, accountId: string) {
    return reassertAll(kv, markerKey("account", accountId), null);
  },
  /** After an account deletion's D1 commit: a racing activation must not have replaced `all`. */
  assertAccountDeleted(kv: KVNamespace, accountId: string) {
    return reassertAll(kv, markerKey("account", accountId), DELETION_MARKER_TTL_SECONDS);
  },
  /**
   * An account that D1 says was never deactivated has no business with a marker: one left by a
   * deactivation whose D1 write failed would stop every credential for good.
   */
  accountNeverDeactivated(kv: KVNamespace, accountId: string) {
    return deleteMarker(kv, markerKey("account", accountId));
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
    return mergeCredentialMarker(kv, credentialId, { changed: updatedAt, ...before }, CHANGE_MARKER_TTL_SECONDS);
  },
  /**
   * After a no-grace roll's D1 commit: the old secret could mint until the commit landed, so
   * tokens up to this moment (rounded up to the whole second) die too. `changed` stays as is.
   */
  credentialRolledAt(kv: KVNamespace, credentialId: string, committedAtMs: number) {
    return mergeCredentialMarker(kv, credentialId, { before: Math.ceil(committedAtMs / 1000) }, CHANGE_MARKER_TTL_SECONDS);
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
  const [credential, account] = await readMarkers(kv, [markerKey("credential", credentialId), markerKey("account", accountId)]);
  return { revoked: revokes(credential, null) || revokes(account, null), changedAt: credential?.changed ?? null };
}

/** One bulk KV read; true when any marker revokes this access token. */
export async function isTokenRevoked(kv: KVNamespace, token: TokenSubject): Promise<boolean> {
  const markers = await readMarkers(kv, [
    markerKey("credential", token.credentialId),
    markerKey("account", token.accountId),
    markerKey("token", token.jti),
  ]);
  return markers.some((marker) => revokes(marker, token.iat));
}
