import { DELETION_MARKER_TTL_SECONDS, EXPIRY_MARKER_TTL_SECONDS, KV_PROPAGATION_SECONDS, TOKEN_REVOCATION_TTL_SECONDS } from "../config";
import { apiEntryKey } from "../storage/edge-entries";
import { writeOnceMore } from "../storage/guarded";
import { type Marker, deleteMarker, markerKey, readMarkers, writeMarker } from "../storage/revocation-markers";

/**
 * The revocation rules for tokens already issued. Secrets are turned away by their edge entry
 * (src/services/edge-entries.ts); these KV markers reach the access tokens a credential or
 * account minted before a change, on every verification path.
 *
 * A marker says `all` (every token of the subject is dead) or `before` (tokens issued at or
 * before that second are dead). One key per credential and per account keeps verification at
 * one small bulk read.
 *
 * A no-grace roll merges `before` into the credential's key (read, merge, write) and KV has no
 * compare-and-set, so it could write over a racing deletion's `all`. The deletion reads its
 * marker back after its D1 commit and puts `all` back (`assertCredentialDeleted`). Account
 * activation, deactivation and deletion race on the account's key and are repaired the same
 * way: each side re-reads the other's result after its own write.
 */

/** A whole second, rounded as the caller says: down before a commit, up after it. */
const toSeconds = (atMs: number, rounding: "down" | "up") => (rounding === "down" ? Math.floor(atMs / 1000) : Math.ceil(atMs / 1000));

/**
 * Merges `before` into a marker. A marker that says `all` is final, and `before` only moves
 * forward: a stalled older write must not shorten a revocation.
 */
async function mergeBefore(kv: KVNamespace, key: string, before: number): Promise<void> {
  const [current] = await readMarkers(kv, [key]);
  if (current?.all) return;
  const merged: Marker = { before: Math.max(current?.before ?? 0, before) };
  await writeOnceMore(() => writeMarker(kv, key, merged, TOKEN_REVOCATION_TTL_SECONDS));
}

/** Re-writes {"all": true} unless the marker already says it (the repair after a race). */
async function reassertAll(kv: KVNamespace, key: string, ttlSeconds: number | null): Promise<void> {
  const [current] = await readMarkers(kv, [key]);
  if (current?.all) return;
  await writeOnceMore(() => writeMarker(kv, key, { all: true }, ttlSeconds));
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
   * A roll with no grace period treats the old secret as leaked: the tokens it issued die too.
   * Written before the D1 commit with the roll's moment rounded down, and again after it with
   * the commit's moment rounded up (the old secret could mint until the commit landed). `iat`
   * has whole seconds, so tokens of the new secret minted in that last second die as well.
   * The marker only has to outlive those tokens.
   */
  credentialRolled(kv: KVNamespace, credentialId: string, atMs: number, rounding: "down" | "up") {
    return mergeBefore(kv, markerKey("credential", credentialId), toSeconds(atMs, rounding));
  },
  /**
   * An API was deleted: tokens minted for it (its identifier's digest) up to the deletion die,
   * written before the commit (rounded down) and after it (rounded up), like a no-grace roll.
   * Merged so the later moment wins; it outlives every token it covers.
   */
  apiDeleted(kv: KVNamespace, identifierDigest: string, atMs: number, rounding: "down" | "up") {
    return mergeBefore(kv, markerKey("api", identifierDigest), toSeconds(atMs, rounding));
  },
  /**
   * A PATCH moved a credential's `expires_at`: the tokens it minted before (anywhere, until the new
   * edge entry has propagated) end at the new expiry rather than at their own `exp`. Later tokens
   * are bounded by the new expiry anyway. A cleared expiry leaves none: nothing ends them early.
   * Written before the D1 commit when the expiry moves sooner (fail closed), after it otherwise.
   */
  expiryChanged(kv: KVNamespace, credentialId: string, expiresAt: string | null) {
    const key = markerKey("expiry", credentialId);
    if (expiresAt === null) return deleteMarker(kv, key);
    const marker: Marker = { before: Math.ceil(Date.now() / 1000) + KV_PROPAGATION_SECONDS, from: Math.floor(Date.parse(expiresAt) / 1000) };
    return writeMarker(kv, key, marker, EXPIRY_MARKER_TTL_SECONDS);
  },
  /** Kept for as long as the organization stays deactivated: every token of every account in it. */
  organizationDeactivated(kv: KVNamespace, organizationId: string) {
    return writeMarker(kv, markerKey("organization", organizationId), { all: true }, null);
  },
  /** The same for an organization that D1 says is deactivated, after a racing activation's write. */
  assertOrganizationDeactivated(kv: KVNamespace, organizationId: string) {
    return reassertAll(kv, markerKey("organization", organizationId), null);
  },
  /** On reactivation, tokens issued up to the deactivation (rounded up) stay dead, as for an account. */
  organizationReactivated(kv: KVNamespace, organizationId: string, deactivatedAt: string | null) {
    const key = markerKey("organization", organizationId);
    // D1 never saw it deactivated: a marker left by a failed deactivation must not stop it for good.
    if (deactivatedAt === null) return deleteMarker(kv, key);
    return writeMarker(kv, key, { before: Math.ceil(Date.parse(deactivatedAt) / 1000) }, TOKEN_REVOCATION_TTL_SECONDS);
  },
  tokenRevoked(kv: KVNamespace, jti: string) {
    return writeMarker(kv, markerKey("token", jti), { all: true }, TOKEN_REVOCATION_TTL_SECONDS);
  },
};

/** An access token as revocation sees it: whose it is, for which API, and when it was issued. */
export interface TokenSubject {
  credentialId: string;
  accountId: string;
  organizationId: string;
  jti: string;
  iat: number;
  /** The digest of its `aud` when that is not the default API (whose deletion cannot happen). */
  apiDigest: string | null;
}

function revokes(marker: Marker | null | undefined, issuedAt: number | null, now: number): boolean {
  if (!marker) return false;
  if (marker.all) return true;
  if (marker.from !== undefined && now < marker.from) return false;
  return issuedAt !== null && marker.before !== undefined && issuedAt <= marker.before;
}

/**
 * One bulk KV read; true when any marker revokes this access token, or when its `aud` is an API
 * that does not exist (any more): the API's entry is read in the same bulk read.
 */
export async function isTokenRevoked(kv: KVNamespace, token: TokenSubject): Promise<boolean> {
  const keys = [
    markerKey("credential", token.credentialId),
    markerKey("account", token.accountId),
    markerKey("organization", token.organizationId),
    markerKey("token", token.jti),
    markerKey("expiry", token.credentialId),
  ];
  if (token.apiDigest !== null) keys.push(markerKey("api", token.apiDigest), apiEntryKey({ digest: token.apiDigest }));
  const values = await readMarkers<Marker | object>(kv, keys);
  if (token.apiDigest !== null && values[6] === null) return true; // no API has this audience
  const now = Math.floor(Date.now() / 1000);
  return values.slice(0, 6).some((marker) => revokes(marker as Marker | null, token.iat, now));
}
