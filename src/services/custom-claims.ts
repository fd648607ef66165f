import { CLAIMS_HOOK_TIMEOUT_MS_DEFAULT } from "../config";
import { type Claims, type Metadata, checkedClaims, mappedClaims, needsNamesOrMetadata } from "../lib/claims";
import { DEFAULT_API_ID } from "../storage/apis";
import { getCredentialWithAccount } from "../storage/credentials";
import type { ApiEntry, EntryClaimSources, LiveEntry } from "../storage/edge-entries";
import { DEFAULT_ORGANIZATION_ID } from "../storage/organizations";
import { healCredential } from "./credential-lookup";
import type { Deferrer } from "./deferrer";
import { entryOf } from "./edge-entries";

/**
 * Custom claims at issuance (contract "Custom claims"): the API's `token_claims` applied to the
 * credential's sources, then the optional issuance hook. Everything the mapping needs travels in
 * the two edge entries the token path already reads in one bulk KV read (the credential's and
 * the API's); an entry written before custom claims is read from D1 once and published again.
 */

/** Who is asking, as the issuance hook sees it: the admin API's fields, no secret, no digest. */
export interface ClaimsSubject {
  organization: { id: string; name: string; external_id: string | null; metadata: Metadata | null };
  account: { id: string; name: string; type: "service" | "user"; organization_id: string; metadata: Metadata | null };
  credential: { id: string; name: string; type: "oauth_client" | "api_key"; account_id: string; client_id: string | null; scopes: string[]; metadata: Metadata | null; expires_at: string | null };
  api: { id: string; name: string; identifier: string; scopes: string[] | null };
}

/** What the hook's `claims(input)` is given: the subject and the scopes the token will carry. */
export type ClaimsHookInput = ClaimsSubject & { scopes: string[] };

/** Sources of an entry written before them, for a mapping that names ids alone (every entry has those). */
const IDS_ONLY: EntryClaimSources = { organization: { name: "", external_id: null, metadata: null }, account: { name: "", type: "service", metadata: null }, credential: { name: "", metadata: null } };

/**
 * The entry's names and metadata, or, for an entry written before them, the row's (then the entry
 * is published again) when `needed`: a mapping that names ids alone reads nothing.
 */
async function sourcesOf(env: Env, ctx: Deferrer | undefined, entry: LiveEntry, needed: boolean): Promise<EntryClaimSources | null> {
  if (entry.claim_sources) return entry.claim_sources;
  if (!needed) return IDS_ONLY;
  const row = await getCredentialWithAccount(env.DB, entry.id);
  if (!row) return null;
  healCredential(env, ctx, entry.id);
  return entryOf(row).claim_sources!;
}

/**
 * The subject of a credential that checked out, for the API it is used for, and the claims that
 * API's mapping gives it. `api` is that API's entry (null: none published, as for a default API
 * never edited); `audience` its identifier.
 */
export async function claimsFor(
  env: Env,
  ctx: Deferrer | undefined,
  entry: LiveEntry,
  api: ApiEntry | null,
  audience: string,
): Promise<{ claims: Claims; subject: ClaimsSubject | null }> {
  const mapping = api?.token_claims ?? null;
  const hooked = env.CLAIMS_HOOK !== undefined && entry.type === "oauth_client";
  // No mapping and no hook: nothing to read, nothing to add (the common case costs nothing).
  if ((mapping === null || Object.keys(mapping).length === 0) && !hooked) return { claims: {}, subject: null };
  const sources = await sourcesOf(env, ctx, entry, hooked || needsNamesOrMetadata(mapping));
  if (sources === null) return { claims: {}, subject: null };
  const organizationId = entry.organization_id ?? DEFAULT_ORGANIZATION_ID;
  const subject: ClaimsSubject = {
    organization: { id: organizationId, ...sources.organization },
    account: { id: entry.account_id, name: sources.account.name, type: sources.account.type, organization_id: organizationId, metadata: sources.account.metadata },
    credential: {
      id: entry.id,
      name: sources.credential.name,
      type: entry.type,
      account_id: entry.account_id,
      client_id: entry.client_id,
      scopes: entry.scopes,
      metadata: sources.credential.metadata,
      expires_at: entry.expires_at ?? null,
    },
    api: { id: api?.id ?? DEFAULT_API_ID, name: api?.name ?? "Default API", identifier: audience, scopes: api ? api.scopes : null },
  };
  return { claims: mappedClaims(mapping, subject), subject };
}

/** The RPC surface of a CLAIMS_HOOK Worker (examples/claims-hook); its answer is checked, never trusted. */
interface ClaimsHookService {
  claims(input: ClaimsHookInput): Promise<unknown>;
}

/** The issuance hook's verdict: claims to merge, or a denial with its reason. */
type HookVerdict = { ok: true; claims: Claims } | { ok: false; deny: string } | { ok: false; unavailable: true };

/**
 * A denial's reason as the token error's description: printable ASCII (anything else becomes a
 * space), at most 256 characters; a reason that is not a string, or is blank, says "access denied".
 */
function denialReason(deny: unknown): string {
  const text = typeof deny === "string" ? deny.replace(/[^\x20-\x7E]/g, " ").replace(/ +/g, " ").trim().slice(0, 256) : "";
  return text || "access denied";
}

interface HookSettings {
  timeoutMs: number;
  onError: "deny" | "omit";
}

function hookSettings(env: Env): HookSettings {
  const timeout = Number(env.CLAIMS_HOOK_TIMEOUT_MS);
  return {
    timeoutMs: env.CLAIMS_HOOK_TIMEOUT_MS && Number.isInteger(timeout) && timeout > 0 ? timeout : CLAIMS_HOOK_TIMEOUT_MS_DEFAULT,
    onError: env.CLAIMS_HOOK_ON_ERROR === "omit" ? "omit" : "deny",
  };
}

/** Reads a hook's answer as untrusted input: `{deny}` (with anything else) denies; otherwise `{claims?}`, nothing else. */
function readAnswer(answer: unknown): HookVerdict | { problem: string } {
  if (typeof answer !== "object" || answer === null || Array.isArray(answer)) return { problem: "the answer is not an object" };
  // A hook that means to deny is obeyed whatever else its answer holds: a denial never becomes a token.
  if (Object.hasOwn(answer, "deny")) return { ok: false, deny: denialReason((answer as { deny?: unknown }).deny) };
  const unknown = Object.keys(answer).find((name) => name !== "claims");
  if (unknown !== undefined) return { problem: "the answer has a member other than claims and deny" };
  const { claims } = answer as { claims?: unknown };
  if (claims === undefined) return { ok: true, claims: {} };
  const checked = checkedClaims(claims);
  return checked.ok ? { ok: true, claims: checked.claims } : { problem: checked.reason };
}

/**
 * Asks the CLAIMS_HOOK Worker (absent: no claims). Its answer is merged over the mapped claims,
 * or denies. A hook that throws, answers something else, or takes longer than
 * CLAIMS_HOOK_TIMEOUT_MS follows CLAIMS_HOOK_ON_ERROR: `deny` (503) or `omit` (no hook claims).
 * Every failure is logged with its reason, never with a claim's value.
 */
export async function askClaimsHook(env: Env, input: ClaimsHookInput): Promise<HookVerdict> {
  const hook = env.CLAIMS_HOOK as ClaimsHookService | undefined;
  if (hook === undefined) return { ok: true, claims: {} };
  const { timeoutMs, onError } = hookSettings(env);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const started = Date.now();
  let problem: string;
  try {
    // A native promise, handled even when the timeout wins and the call fails later.
    const asked = Promise.resolve().then(() => hook.claims(input));
    asked.catch(() => {});
    const answer = await Promise.race([asked, timedOut]);
    const verdict = answer === "timeout" ? { problem: `no answer within ${timeoutMs} ms` } : readAnswer(answer);
    if (!("problem" in verdict)) return verdict;
    problem = verdict.problem;
  } catch (error) {
    problem = `the hook threw (${error instanceof Error ? error.name : typeof error})`;
  } finally {
    clearTimeout(timer);
  }
  console.error(JSON.stringify({ event: "claims_hook_failed", reason: problem, credential_id: input.credential.id, on_error: onError, duration_ms: Date.now() - started }));
  return onError === "omit" ? { ok: true, claims: {} } : { ok: false, unavailable: true };
}
