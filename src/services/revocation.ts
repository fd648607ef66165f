import { CHANGE_MARKER_TTL_SECONDS, DELETION_MARKER_TTL_SECONDS, TOKEN_REVOCATION_TTL_SECONDS } from "../config";
import { type Marker, changeKey, markerKey, readMarkers, writeMarker } from "../storage/revocation-markers";

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
  /**
   * A roll or edit: copies of the credential older than `updatedAt` (per-isolate caches, D1
   * replicas) must not be used. Kept far longer than a cache entry lives or a replica lags.
   */
  credentialChanged(kv: KVNamespace, credentialId: string, updatedAt: string) {
    return writeMarker(kv, changeKey(credentialId), updatedAt, CHANGE_MARKER_TTL_SECONDS);
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

/** What KV says about a credential presented by its secret, from one bulk read. */
export interface CredentialState {
  /** A marker revokes the credential's secret (deleted, or its account deactivated or deleted). */
  revoked: boolean;
  /** The credential's last roll or edit, if recent: older copies of its row are stale. */
  changedAt: string | null;
}

export async function credentialState(kv: KVNamespace, credentialId: string, accountId: string): Promise<CredentialState> {
  const [credential, account, changed] = await readMarkers<Marker | string>(kv, [
    markerKey("credential", credentialId),
    markerKey("account", accountId),
    changeKey(credentialId),
  ]);
  const revokesSecret = (marker: Marker | string | null | undefined) => typeof marker === "object" && marker !== null && "all" in marker;
  return { revoked: revokesSecret(credential) || revokesSecret(account), changedAt: typeof changed === "string" ? changed : null };
}

/** One bulk KV read; true when any marker revokes this secret or token. */
export async function isRevoked(kv: KVNamespace, subject: Subject): Promise<boolean> {
  const keys = [markerKey("credential", subject.credentialId), markerKey("account", subject.accountId)];
  if (subject.token) keys.push(markerKey("token", subject.token.jti));
  const markers = await readMarkers(kv, keys);
  const issuedAt = subject.token?.iat ?? null;
  return markers.some((marker) => revokes(marker, issuedAt));
}
