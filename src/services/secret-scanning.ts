import { ApiError } from "../http/errors";
import { base64Decode } from "../lib/crypto";
import { derToP1363, pemToDer } from "../lib/ecdsa-der";
import { sha256Hex } from "../lib/crypto";
import { type AuditContext, insertAuditEvent, IF_CHANGED } from "../storage/audit-events";
import { type CredentialByDigest, findByDigests, flagLeaked, getCredentialsWithAccount } from "../storage/credentials";
import { grantRowsOf } from "../storage/apis";
import { eventAfterAudit } from "./webhook-events";
import { commit } from "../storage/d1";
import { type GithubKeyCache, type GithubPublicKey, readGithubKeys, writeGithubKeys } from "../storage/github-keys";
import { endGrace } from "./credential-grace";
import { deleteCredential, toCredential } from "./credentials";
import { nowIso } from "./ids";
import { isWellFormed } from "./secrets";

/**
 * GitHub's secret scanning partner program (contract "Leaked secrets"): GitHub finds a Keymint
 * secret in a public place and reports it here, signed with one of its published keys. This
 * module checks the signature, classifies each reported value, answers GitHub's labels and acts
 * on the real secrets per LEAKED_SECRET_ACTION. It never logs a reported value or its digest.
 */

/** The actor of every change a report makes (its channel is `system`). */
export const SECRET_SCANNING_ACTOR = "github_secret_scanning";

/**
 * GitHub's keys endpoint allows 60 unauthenticated calls an hour (GITHUB_TOKEN raises that): a
 * report signed by a key id we do not know makes us ask again at most this often, counted from
 * the cache's `checked_at` in KV, so forged key ids cannot spend GitHub's budget.
 */
export const KEYS_REFRESH_MIN_INTERVAL_MS = 60_000;
/** Known keys are asked for again after a day, so a key GitHub withdraws stops being trusted. */
export const KEYS_MAX_AGE_MS = 86_400_000;
/** The keys URL has this long to answer (the report waits on it). */
const KEYS_FETCH_TIMEOUT_MS = 5_000;
/** GitHub's keys document is a few hundred bytes; anything far larger is not it. */
const MAX_KEYS_DOCUMENT_BYTES = 64 * 1024;
/** Header values longer than this are not a key id or a P-256 signature (a DER one is ≤ 96 base64 characters). */
const MAX_SIGNATURE_HEADER_LENGTH = 256;
/** A leak URL is stored (leak_url, the audit event's detail) cut to this length. */
export const MAX_LEAK_URL_LENGTH = 2_048;

/**
 * The per-invocation bound. A Worker invocation may make at most 1,000 KV operations, and work
 * handed to ctx.waitUntil counts against the same invocation, so deferring does not lift it.
 * Deleting a credential costs 4 in the common case (the revocation marker, the edge entry, the
 * marker's read-back, the publish's bulk read; measured in test/secret-scanning/report.test.ts)
 * and at most about 12 (two edge entries during a grace, a retry on each write, race repairs);
 * ending a grace fewer. The keys' cache takes two. So one report revokes at most this many
 * credentials (83); the true positives past it are answered `true_positive` like the others and
 * flagged instead (leaked_at, leak_url and a `credential.leak_flagged` event: D1 only, no KV),
 * for an admin to roll or delete. docs/operations.md says so.
 */
export const KV_OPERATIONS_PER_INVOCATION = 1_000;
const KV_OPERATIONS_PER_REVOCATION = 12;
const KV_OPERATIONS_RESERVED = 4;
export const MAX_REVOCATIONS_PER_REPORT = Math.floor((KV_OPERATIONS_PER_INVOCATION - KV_OPERATIONS_RESERVED) / KV_OPERATIONS_PER_REVOCATION);
/** Revocations run this many at a time (a Worker keeps at most 6 connections open at once). */
const ACTION_CONCURRENCY = 6;
/** Flags are written this many credentials (two statements each) per D1 batch. */
const FLAGS_PER_BATCH = 50;

/** The optional secret that raises GitHub's rate limit for the keys URL. */
type ScanningEnv = Env & { GITHUB_TOKEN?: string };

// ---- the signature ---------------------------------------------------------------------------

function parseKeysDocument(value: unknown): GithubPublicKey[] {
  const list = (value as { public_keys?: unknown } | null)?.public_keys;
  if (!Array.isArray(list)) return [];
  return list
    .filter((item): item is GithubPublicKey => typeof item?.key_identifier === "string" && typeof item?.key === "string")
    .map(({ key_identifier, key }) => ({ key_identifier, key }));
}

/** GitHub's keys from the keys URL, or null when they cannot be had (logged, without detail). */
async function fetchGithubKeys(env: ScanningEnv): Promise<GithubPublicKey[] | null> {
  try {
    const response = await fetch(env.GITHUB_SECRET_SCANNING_KEYS_URL, {
      headers: {
        accept: "application/json",
        // GitHub's API refuses requests without a User-Agent.
        "user-agent": "keymint-secret-scanning",
        ...(env.GITHUB_TOKEN ? { authorization: `Bearer ${env.GITHUB_TOKEN}` } : {}),
      },
      signal: AbortSignal.timeout(KEYS_FETCH_TIMEOUT_MS),
    });
    const text = response.ok ? await response.text() : "";
    const keys = text.length <= MAX_KEYS_DOCUMENT_BYTES && text ? parseKeysDocument(JSON.parse(text)) : [];
    if (keys.length) return keys;
    console.error(JSON.stringify({ event: "github_keys_unavailable", status: response.status }));
  } catch (error) {
    console.error(JSON.stringify({ event: "github_keys_unavailable", error: (error as Error).name }));
  }
  return null;
}

/**
 * The PEM of GitHub's key `keyId`, from the KV cache, asking the keys URL when the cache is
 * missing, a day old, or does not know the id and was not checked in the last minute. Null: no
 * such key. 503 when there are no keys at all (the URL failed and nothing is cached).
 */
async function githubKey(env: ScanningEnv, keyId: string): Promise<string | null> {
  const now = Date.now();
  let cache: GithubKeyCache | null = await readGithubKeys(env.REVOCATIONS);
  const find = () => cache?.keys.find((key) => key.key_identifier === keyId)?.key ?? null;
  const age = cache ? now - cache.checked_at : Infinity;
  if ((find() === null && age >= KEYS_REFRESH_MIN_INTERVAL_MS) || age >= KEYS_MAX_AGE_MS) {
    const fetched = await fetchGithubKeys(env);
    // Recorded even when the fetch failed, so that failures too are retried once a minute at most.
    cache = { checked_at: now, keys: fetched ?? cache?.keys ?? [] };
    try {
      await writeGithubKeys(env.REVOCATIONS, cache);
    } catch {
      // The keys in hand still verify this report; the next one asks again.
    }
  }
  if (!cache || cache.keys.length === 0) {
    throw new ApiError("temporarily_unavailable", "GitHub's secret-scanning keys are unavailable; try again.");
  }
  return find();
}

const unsigned = () => new ApiError("unauthorized", "The report must be signed by GitHub (Github-Public-Key-Identifier, Github-Public-Key-Signature).");

/**
 * Checks GitHub's signature over the raw body: base64 DER ECDSA P-256 / SHA-256 by the key
 * `keyId` names. Throws 401 for a missing, malformed or wrong signature or an unknown key id.
 */
export async function verifyReportSignature(env: Env, keyId: string | undefined, signature: string | undefined, body: Uint8Array<ArrayBuffer>): Promise<void> {
  if (!keyId || !signature || keyId.length > MAX_SIGNATURE_HEADER_LENGTH || signature.length > MAX_SIGNATURE_HEADER_LENGTH) throw unsigned();
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = base64Decode(signature.trim());
  } catch {
    throw unsigned();
  }
  const raw = derToP1363(der);
  if (!raw) throw unsigned();
  const pem = await githubKey(env, keyId);
  const spki = pem === null ? null : pemToDer(pem);
  if (!spki) throw unsigned();
  let valid = false;
  try {
    const key = await crypto.subtle.importKey("spki", spki, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    valid = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, raw, body);
  } catch {
    valid = false; // a published key that is not P-256 verifies nothing
  }
  if (!valid) throw unsigned();
}

// ---- the report ------------------------------------------------------------------------------

export interface ReportedToken {
  token: string;
  type: string;
  url: string | null;
}

const badReport = (description: string) => new ApiError("invalid_request", description);

/**
 * The body as GitHub sends it: a JSON array of `{token, type, url, source}`. Lenient: unknown
 * fields and any `source` are accepted, `url` may be missing. Errors name positions, never values.
 */
export function parseReport(body: Uint8Array): ReportedToken[] {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch {
    throw badReport("The body is not JSON.");
  }
  if (!Array.isArray(value)) throw badReport("The body must be a JSON array of reported tokens.");
  return value.map((item: unknown, i) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) throw badReport(`[${i}] must be an object.`);
    const { token, type, url } = item as Record<string, unknown>;
    if (typeof token !== "string") throw badReport(`[${i}].token must be a string.`);
    if (typeof type !== "string") throw badReport(`[${i}].type must be a string.`);
    if (url !== undefined && url !== null && typeof url !== "string") throw badReport(`[${i}].url must be a string.`);
    return { token, type, url: typeof url === "string" ? url.slice(0, MAX_LEAK_URL_LENGTH) : null };
  });
}

export type Label = "true_positive" | "false_positive";

export interface LabelledToken {
  token_hash: string;
  token_type: string;
  label: Label;
}

/** Only these are secrets; a client_id (`kmc_`) is public, so it is never a positive. */
function mayBeSecret(token: string): boolean {
  return isWellFormed("api_key", token) || isWellFormed("client_secret", token);
}

/** What a report found for one credential: its current secret (or only a previous one in its grace), and where. */
interface Leak {
  credential: CredentialByDigest;
  current: boolean;
  url: string | null;
}

export type LeakedSecretAction = "revoke" | "flag";

/** LEAKED_SECRET_ACTION: `flag`, or `revoke` (the default, also for any other value). */
export function leakedSecretAction(env: Env): LeakedSecretAction {
  return env.LEAKED_SECRET_ACTION?.trim() === "flag" ? "flag" : "revoke";
}

/** Runs `work` on every item, at most `limit` at a time; rethrows the first failure after all have settled. */
async function eachBounded<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw (failure as { error: unknown }).error;
}

/** A deletion or grace ending that found nothing left to do (another report or an admin got there first). */
const alreadyDone = (error: unknown) => error instanceof ApiError && (error.code === "not_found" || error.code === "invalid_request");

/**
 * Sets leaked_at and leak_url, with a `credential.leak_flagged` audit event and a
 * `credential.leaked` webhook event each; nothing else changes.
 */
async function flag(env: Env, who: AuditContext, leaks: Leak[]): Promise<void> {
  const at = nowIso();
  for (let i = 0; i < leaks.length; i += FLAGS_PER_BATCH) {
    const chunk = leaks.slice(i, i + FLAGS_PER_BATCH);
    const ids = chunk.map(({ credential }) => credential.id);
    const [rows, grants] = await Promise.all([getCredentialsWithAccount(env.DB, ids), grantRowsOf(env.DB, ids)]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    await commit(
      env.DB,
      chunk.flatMap(({ credential, url }) => {
        const row = byId.get(credential.id);
        return [
          flagLeaked(env.DB, credential.id, at, url),
          insertAuditEvent(
            env.DB,
            who,
            at,
            { action: "credential.leak_flagged", target_type: "credential", target_id: credential.id, target_name: credential.name, detail: url },
            IF_CHANGED,
          ),
          // Gone since it was found: no event (its deletion sent one).
          ...(row ? [eventAfterAudit(env.DB, "credential.leaked", at, toCredential({ ...row, leaked_at: at, leak_url: url }, Date.now(), grants))] : []),
        ];
      }),
    );
  }
}

/**
 * `revoke`: a leaked current secret deletes its credential as an admin would; a leaked previous
 * secret only ends its grace. Past MAX_REVOCATIONS_PER_REPORT, the rest are flagged.
 */
async function revoke(env: Env, who: AuditContext, leaks: Leak[]): Promise<{ revoked: number; flagged: number }> {
  const now = leaks.slice(0, MAX_REVOCATIONS_PER_REPORT);
  const past = leaks.slice(MAX_REVOCATIONS_PER_REPORT);
  await eachBounded(now, ACTION_CONCURRENCY, async ({ credential, current, url }) => {
    try {
      if (current) await deleteCredential(env, who, credential.id, url);
      else await endGrace(env, who, credential.id, url);
    } catch (error) {
      if (!alreadyDone(error)) throw error;
    }
  });
  if (past.length) await flag(env, who, past);
  return { revoked: now.length, flagged: past.length };
}

/**
 * Answers a verified report: one label per reported value, in order, and the action on each
 * credential whose secret it holds. Lookups are batched (one D1 round trip for the report).
 */
export async function handleReport(env: Env, who: AuditContext, report: ReportedToken[]): Promise<LabelledToken[]> {
  const hashes = await Promise.all(report.map(({ token }) => sha256Hex(token)));
  const candidates = hashes.filter((_, i) => mayBeSecret(report[i]!.token));
  const found = await findByDigests(env.DB, candidates, nowIso());
  const byDigest = new Map<string, { credential: CredentialByDigest; current: boolean }>();
  for (const credential of found) {
    byDigest.set(credential.secret_hash, { credential, current: true });
    if (credential.previous_secret_hash !== null) byDigest.set(credential.previous_secret_hash, { credential, current: false });
  }

  // One action per credential: its current secret's leak wins over its previous one's.
  const leaks = new Map<string, Leak>();
  const labels = report.map(({ type, url }, i): LabelledToken => {
    const hit = mayBeSecret(report[i]!.token) ? byDigest.get(hashes[i]!) : undefined;
    if (hit) {
      const known = leaks.get(hit.credential.id);
      if (!known || (hit.current && !known.current)) leaks.set(hit.credential.id, { ...hit, url });
    }
    return { token_hash: hashes[i]!, token_type: type, label: hit ? "true_positive" : "false_positive" };
  });

  const action = leakedSecretAction(env);
  const list = [...leaks.values()];
  let outcome = { revoked: 0, flagged: 0 };
  if (action === "flag") {
    await flag(env, who, list);
    outcome = { revoked: 0, flagged: list.length };
  } else {
    outcome = await revoke(env, who, list);
  }
  // Counts only: never a value, a digest or a credential id from a report.
  console.log(JSON.stringify({ event: "secret_scanning_report", action, reported: report.length, credentials: list.length, ...outcome }));
  return labels;
}
