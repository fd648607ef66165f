import { MAX_CREDENTIALS_PER_ACCOUNT } from "../config";
import { ApiError, invalidField } from "../http/errors";
import { sha256Hex } from "../lib/crypto";
import { getAccount } from "../storage/accounts";
import { getOrganization as getOrganizationRow } from "../storage/organizations";
import { type AuditContext, insertAuditEvent, IF_CHANGED, ifRowExists } from "../storage/audit-events";
import * as credentials from "../storage/credentials";
import type { CredentialFilter, CredentialRow, CredentialType, CredentialWithAccount, TokenEndpointAuthMethod } from "../storage/credentials";
import { commit } from "../storage/d1";
import { claimIdempotencyKey, getIdempotencyKey, releaseIdempotencyKey } from "../storage/idempotency-keys";
import { type Page, type Position, toPage } from "../storage/pagination";
import { type Metadata, storedObject } from "../lib/claims";
import { newId, nowIso } from "./ids";
import { type GrantInput, assertUsableJwks, checkedExpiry, expiryAction, resolveGrants } from "./credential-rules";

export { type GrantInput, maxLifetimeDays } from "./credential-rules";
import { eventAfterAudit, eventIf } from "./webhook-events";
import * as apiStore from "../storage/apis";
import type { GrantRow } from "../storage/apis";
import type { Grant } from "./audiences";
import { deletedEntry, edgeEntries } from "./edge-entries";
import { ceilingProblem } from "./organizations";
import { revocation } from "./revocation";
import { publicKeys } from "../lib/client-jwks";
import { generateSecret, hintOf } from "./secrets";

/** A credential as admins see it: never its secret, never a digest. */
export interface Credential {
  id: string;
  name: string;
  type: CredentialType;
  account_id: string;
  client_id?: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  hint: string;
  previous_secret_expires_at: string | null;
  /** During a roll's grace, when the previous secret was last used (to the usage flush, about 15 s); null otherwise. */
  previous_secret_last_used_at: string | null;
  /** Access to APIs other than the default one (`scopes` is the grant on the default API). */
  grants: Grant[];
  /** After this moment the credential authenticates nowhere; null: never. */
  expires_at: string | null;
  /** The CIDRs it may be used from; null: anywhere. */
  allowed_ips: string[] | null;
  /** Set when a secret scanner reported its secret (LEAKED_SECRET_ACTION=flag); a roll clears it. */
  leaked_at: string | null;
  leak_url: string | null;
  /** oauth_client only: `client_secret_basic` (its secret; post works too) or `private_key_jwt` (assertions). */
  token_endpoint_auth_method?: TokenEndpointAuthMethod;
  /** private_key_jwt only: its public keys. */
  jwks?: { keys: Record<string, unknown>[] };
  /** Its tokens must be DPoP-bound. */
  dpop_bound_access_tokens: boolean;
  /** A source of custom claims (contract "Custom claims"); null: none. */
  metadata: Metadata | null;
}

/** The one response that carries a secret: creation (and rolling); a private_key_jwt client has none. */
export type CredentialWithSecret = Credential & { client_secret?: string; api_key?: string };

export function toCredential(row: CredentialRow, now = Date.now(), grants: GrantRow[] = []): Credential {
  const inGrace = credentials.graceRunning(row, now);
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    account_id: row.account_id,
    ...(row.client_id !== null ? { client_id: row.client_id } : {}),
    scopes: JSON.parse(row.scopes) as string[],
    created_at: row.created_at,
    last_used_at: row.last_used_at,
    hint: row.hint,
    previous_secret_expires_at: inGrace ? row.previous_secret_expires_at : null,
    previous_secret_last_used_at: inGrace ? row.previous_secret_last_used_at : null,
    grants: grants.filter((grant) => grant.credential_id === row.id).map((grant) => ({ api: grant.identifier, scopes: JSON.parse(grant.scopes) as string[] })),
    expires_at: row.expires_at,
    allowed_ips: row.allowed_ips === null ? null : (JSON.parse(row.allowed_ips) as string[]),
    leaked_at: row.leaked_at,
    leak_url: row.leak_url,
    ...(row.type === "oauth_client" ? { token_endpoint_auth_method: row.token_endpoint_auth_method } : {}),
    ...(row.jwks === null ? {} : { jwks: JSON.parse(row.jwks) as { keys: Record<string, unknown>[] } }),
    dpop_bound_access_tokens: row.dpop_bound_access_tokens === 1,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Metadata),
  };
}

/** The grants of one credential as the admin API shows them (for its events). */
async function grantsOf(env: Env, id: string): Promise<Grant[]> {
  return (await apiStore.grantRowsOf(env.DB, [id])).map((grant) => ({ api: grant.identifier, scopes: JSON.parse(grant.scopes) as string[] }));
}

/** Credentials as admins see them, grants included (one D1 read for up to 100 rows). */
async function presented(env: Env, rows: CredentialRow[]): Promise<Credential[]> {
  const grants = await apiStore.grantRowsOf(env.DB, rows.map((row) => row.id));
  const now = Date.now();
  return rows.map((row) => toCredential(row, now, grants));
}

/** What naming an unknown account in a credential's create answers. */
export const unknownAccount = () => new ApiError("not_found", "account_id does not name an account.", {}, "account_id");

export const credentialNotFound = () => new ApiError("not_found", "No credential has this id.");
const notFound = credentialNotFound;

/** A new secret for a credential of this type, with what is stored of it. */
async function newSecret(type: CredentialType) {
  const secret = generateSecret(type === "api_key" ? "api_key" : "client_secret");
  const reveal = type === "api_key" ? { api_key: secret } : { client_secret: secret };
  return { reveal, stored: { hash: await sha256Hex(secret), hint: hintOf(secret) } };
}

/** A private_key_jwt client's secret: random bytes nobody holds, so no secret ever matches. */
async function unusableSecret() {
  return { hash: await sha256Hex(crypto.randomUUID() + crypto.randomUUID()), hint: "" };
}

export interface NewCredential {
  name: string;
  type: CredentialType;
  account_id: string;
  scopes: string[];
  token_endpoint_auth_method?: TokenEndpointAuthMethod | undefined;
  jwks?: { keys: Record<string, unknown>[] } | undefined;
  dpop_bound_access_tokens?: boolean | undefined;
  grants?: GrantInput[] | undefined;
  expires_at?: string | null | undefined;
  allowed_ips?: string[] | null | undefined;
  metadata?: Metadata | null | undefined;
}

/** A create or roll retried with the same Idempotency-Key: the first result, without its secret. */
export interface Replayed {
  replayed: true;
  credential: Credential;
}

/** What a retry must match to count as the same request. */
async function requestHash(operation: string, input: unknown): Promise<string> {
  return sha256Hex(JSON.stringify([operation, input]));
}

/**
 * With an idempotency key, the claim goes first in the batch and the change runs only if the
 * claim is new (statements guarded by `changes() > 0`). Otherwise the first result is replayed:
 * its metadata, never its secret (which exists nowhere any more).
 */
async function replay(env: Env, who: AuditContext, key: string, hash: string): Promise<Replayed> {
  const claim = await getIdempotencyKey(env.DB, who.actor, key);
  if (!claim || claim.request_hash !== hash) {
    throw new ApiError("invalid_request", "This Idempotency-Key was already used for a different request.");
  }
  return { replayed: true, credential: await getCredential(env, claim.credential_id) };
}

export async function createCredential(
  env: Env,
  who: AuditContext,
  input: NewCredential,
  idempotencyKey?: string,
): Promise<CredentialWithSecret | Replayed> {
  const account = await getAccount(env.DB, input.account_id);
  if (!account) throw unknownAccount();
  if (account.status !== "active") {
    throw invalidField("account_id", "This account is deactivated: activate it before giving it credentials.");
  }
  const [count, organization] = await Promise.all([
    credentials.countCredentialsOfAccount(env.DB, input.account_id),
    getOrganizationRow(env.DB, account.organization_id),
  ]);
  if (count >= MAX_CREDENTIALS_PER_ACCOUNT) {
    throw new ApiError("invalid_request", `An account has at most ${MAX_CREDENTIALS_PER_ACCOUNT} credentials.`);
  }
  if (organization?.status !== "active") throw invalidField("account_id", "This account's organization is deactivated: activate it before giving it credentials.");
  const grants = await resolveGrants(env, input.grants ?? []);
  const beyond = ceilingProblem(organization.grants, { scopes: input.scopes ?? [], grants });
  if (beyond) throw invalidField(beyond.field, beyond.message);
  const expiresAt = checkedExpiry(env, input.expires_at ?? null);
  const method = input.token_endpoint_auth_method ?? "client_secret_basic";
  if (method === "private_key_jwt") {
    if (input.type !== "oauth_client") throw invalidField("token_endpoint_auth_method", "token_endpoint_auth_method is for oauth_client credentials.");
    if (input.jwks === undefined) throw invalidField("jwks", "jwks is required for private_key_jwt.");
    await assertUsableJwks(input.jwks);
  } else if (input.jwks !== undefined) throw invalidField("jwks", "jwks is for private_key_jwt clients only.");
  if (input.token_endpoint_auth_method !== undefined && input.type !== "oauth_client") {
    throw invalidField("token_endpoint_auth_method", "token_endpoint_auth_method is for oauth_client credentials.");
  }
  const at = nowIso();
  // A private_key_jwt client gets no secret: nothing to show, nothing that could match.
  const { reveal, stored }: { reveal: { client_secret?: string; api_key?: string }; stored: { hash: string; hint: string } } =
    method === "private_key_jwt" ? { reveal: {}, stored: await unusableSecret() } : await newSecret(input.type);
  const row: CredentialRow = {
    id: newId("cred"),
    account_id: input.account_id,
    name: input.name,
    type: input.type,
    client_id: input.type === "oauth_client" ? generateSecret("client_id") : null,
    secret_hash: stored.hash,
    hint: stored.hint,
    previous_secret_hash: null,
    previous_secret_expires_at: null,
    previous_secret_last_used_at: null,
    scopes: JSON.stringify(input.scopes),
    created_at: at,
    updated_at: at,
    last_used_at: null,
    expires_at: expiresAt,
    allowed_ips: input.allowed_ips ? JSON.stringify(input.allowed_ips) : null,
    leaked_at: null,
    leak_url: null,
    token_endpoint_auth_method: method,
    jwks: input.jwks === undefined ? null : JSON.stringify(publicKeys(input.jwks)),
    dpop_bound_access_tokens: input.dpop_bound_access_tokens ? 1 : 0,
    metadata: storedObject(input.metadata),
  };
  const audit = insertAuditEvent(env.DB, who, at, { action: "credential.create", target_type: "credential", target_id: row.id, target_name: row.name }, IF_CHANGED);
  const event = eventAfterAudit(env.DB, "credential.created", at, { ...toCredential(row), grants: (input.grants ?? []).map(({ api, scopes }) => ({ api, scopes })) });
  // The edge entry is written before the answer, so the credential's very first use, in this
  // location, is a KV read (elsewhere within KV's propagation delay, or one D1 read on a miss).
  // Inserted only with the row this batch made (a replayed create leaves the first one's alone).
  const grantStatements = [
    ...apiStore.insertGrants(env.DB, row.id, grants),
    ...(expiresAt === null ? [] : [lifecycleEvent(env.DB, who, at, row, "credential.expiry_set")]),
  ];
  const created = async () => {
    await edgeEntries.publish(env, row);
    return { ...(await presented(env, [row]))[0]!, ...reveal };
  };
  if (idempotencyKey === undefined) {
    await commit(env.DB, [credentials.insertCredential(env.DB, row), credentials.insertCredentialOrganization(env.DB, row.id, row.account_id), audit, event, ...grantStatements]);
    return created();
  }
  const hash = await requestHash("credential.create", input);
  const [claimed] = await commit(env.DB, [
    claimIdempotencyKey(env.DB, { actor: who.actor, key: idempotencyKey, operation: "credential.create", request_hash: hash, credential_id: row.id, created_at: at }),
    credentials.insertCredential(env.DB, row, true),
    credentials.insertCredentialOrganization(env.DB, row.id, row.account_id),
    audit,
    event,
    ...grantStatements,
  ]);
  if (!claimed) return replay(env, who, idempotencyKey, hash);
  return created();
}

/**
 * The `updated_at` of a change: now, but always after the row's current one, because it is
 * the version that edits are conditional on.
 */
function nextVersion(row: CredentialRow): string {
  return nowIso(Math.max(Date.now(), Date.parse(row.updated_at) + 1));
}

async function mustGet(env: Env, id: string): Promise<CredentialRow> {
  const row = await credentials.getCredential(env.DB, id);
  if (!row) throw notFound();
  return row;
}

export async function getCredential(env: Env, id: string): Promise<Credential> {
  return (await presented(env, [await mustGet(env, id)]))[0]!;
}

export async function listCredentials(
  env: Env,
  filter: CredentialFilter,
  limit: number,
  after: Position | null,
): Promise<Page<Credential>> {
  const rows = await credentials.listCredentials(env.DB, filter, limit + 1, after);
  const page = toPage(rows, limit, (row) => ({ time: row.created_at, id: row.id }));
  return { data: await presented(env, page.data), next_cursor: page.next_cursor };
}

/** An edit that loses a race with another edit of the same credential is retried this often, then 409. */
export const MAX_EDIT_RETRIES = 3;

const conflict = () =>
  new ApiError("conflict", "Another change to this credential kept landing first. Read it again, then retry.");

/**
 * Reads the row for one attempt of an edit. Gone: 404, and if this edit already wrote a marker,
 * the deletion is re-asserted (our merge may have landed over its `all`).
 */
async function rowForAttempt(env: Env, id: string, attempt: number): Promise<CredentialWithAccount> {
  const row = await credentials.getCredentialWithAccount(env.DB, id);
  if (row) return row;
  if (attempt > 0) await revocation.assertCredentialDeleted(env.REVOCATIONS, id);
  throw notFound();
}

export async function updateCredential(
  env: Env,
  who: AuditContext,
  id: string,
  changes: {
    name?: string | undefined;
    scopes?: string[] | undefined;
    grants?: GrantInput[] | undefined;
    expires_at?: string | null | undefined;
    allowed_ips?: string[] | null | undefined;
    jwks?: { keys: Record<string, unknown>[] } | undefined;
    dpop_bound_access_tokens?: boolean | undefined;
    metadata?: Metadata | null | undefined;
  },
): Promise<Credential> {
  // Nothing to change (`{}`): answer like a get, with no write and no audit event.
  if (Object.values(changes).every((value) => value === undefined)) return getCredential(env, id);
  const grants = changes.grants === undefined ? undefined : await resolveGrants(env, changes.grants);
  for (let attempt = 0; ; attempt++) {
    const [row, grantsBefore] = await Promise.all([rowForAttempt(env, id, attempt), grantsOf(env, id)]);
    if (attempt > MAX_EDIT_RETRIES) throw conflict();
    // What an edit gives must fit under the organization's ceiling; what it leaves alone may stay.
    const beyond = ceilingProblem(row.organization_grants, { scopes: changes.scopes, grants });
    if (beyond) throw invalidField(beyond.field, beyond.message);
    const at = nextVersion(row);
    const expiresAt = checkedExpiry(env, changes.expires_at === undefined ? row.expires_at : changes.expires_at);
    if (changes.jwks !== undefined) {
      if (row.token_endpoint_auth_method !== "private_key_jwt") throw invalidField("jwks", "jwks is for private_key_jwt clients only.");
      if (attempt === 0) await assertUsableJwks(changes.jwks);
    }
    const jwks = changes.jwks === undefined ? undefined : publicKeys(changes.jwks);
    const values: credentials.CredentialChanges = {
      ...(changes.name === undefined ? {} : { name: changes.name }),
      ...(changes.scopes === undefined ? {} : { scopes: JSON.stringify(changes.scopes) }),
      ...(expiresAt === row.expires_at ? {} : { expires_at: expiresAt }),
      ...(changes.allowed_ips === undefined ? {} : { allowed_ips: changes.allowed_ips === null ? null : JSON.stringify(changes.allowed_ips) }),
      ...(jwks === undefined ? {} : { jwks: JSON.stringify(jwks) }),
      ...(changes.dpop_bound_access_tokens === undefined ? {} : { dpop_bound_access_tokens: changes.dpop_bound_access_tokens ? 1 : 0 }),
      ...(changes.metadata === undefined ? {} : { metadata: storedObject(changes.metadata) }),
    };
    // What is taken away is taken away at the edge before D1 commits (fail closed): scopes,
    // grants (none until the new ones are published), an earlier expiry, and any change of the
    // allowlist (from nowhere until the new one is published).
    const kept = changes.scopes;
    const scopesShrink = kept !== undefined && (JSON.parse(row.scopes) as string[]).some((scope) => !kept.includes(scope));
    const expiresSooner = expiresAt !== null && (row.expires_at === null || expiresAt < row.expires_at);
    // A key removed from jwks stops working at once; requiring DPoP takes effect at once too.
    const keptKeys = jwks === undefined ? undefined : new Set(jwks.keys.map((key) => JSON.stringify(key)));
    if (scopesShrink || grants !== undefined || expiresSooner || changes.allowed_ips !== undefined || jwks !== undefined || changes.dpop_bound_access_tokens === true) {
      await edgeEntries.restrict(env, row, (entry) => ({
        ...entry,
        ...(keptKeys === undefined ? {} : { jwks: (entry.jwks ?? []).filter((key) => keptKeys.has(JSON.stringify(key))) }),
        ...(changes.dpop_bound_access_tokens === true ? { dpop_bound: true } : {}),
        scopes: kept ? entry.scopes.filter((scope) => kept.includes(scope)) : entry.scopes,
        grants: grants === undefined ? entry.grants : [],
        expires_at: expiresSooner ? expiresAt : entry.expires_at,
        allowed_ips: changes.allowed_ips === undefined ? entry.allowed_ips : [],
      }));
    }
    // Tokens minted before end at the new expiry: marked before the commit when it comes sooner.
    if (expiresSooner) await revocation.expiryChanged(env.REVOCATIONS, id, expiresAt);
    const lifecycle = expiryAction(row.expires_at, expiresAt);
    const keysChanged = jwks !== undefined && JSON.stringify(jwks) !== row.jwks;
    const grantsAfter = changes.grants ?? grantsBefore;
    const sameGrants = (a: Grant[], b: Grant[]) => JSON.stringify([...a].sort((x, y) => x.api.localeCompare(y.api))) === JSON.stringify([...b].sort((x, y) => x.api.localeCompare(y.api)));
    const moved = (Object.keys(values) as (keyof typeof values)[]).some((field) => values[field] !== row[field]) || !sameGrants(grantsAfter, grantsBefore);
    // Conditional on the version read: a stalled edit cannot land over a newer one.
    const [changed] = await commit(env.DB, [
      credentials.updateCredential(env.DB, id, values, row.updated_at, at),
      insertAuditEvent(env.DB, who, at, { action: "credential.update", target_type: "credential", target_id: id, target_name: changes.name ?? row.name }, IF_CHANGED),
      // An edit that changes nothing sends no event (contract "Webhooks").
      ...(moved ? [eventAfterAudit(env.DB, "credential.updated", at, { ...toCredential({ ...row, ...values, updated_at: at } as CredentialRow), grants: grantsAfter })] : []),
      ...(lifecycle === null ? [] : [lifecycleEvent(env.DB, who, at, { id, name: changes.name ?? row.name }, lifecycle, at)]),
      ...(keysChanged ? [lifecycleEvent(env.DB, who, at, { id, name: changes.name ?? row.name }, "credential.jwks_changed", at)] : []),
      ...(grants === undefined ? [] : apiStore.replaceGrants(env.DB, id, grants, at)),
    ]);
    if (changed) {
      if (expiresAt !== row.expires_at && !expiresSooner) await revocation.expiryChanged(env.REVOCATIONS, id, expiresAt);
      await edgeEntries.publish(env, row);
      return getCredential(env, id);
    }
  }
}

/**
 * A lifecycle audit event (expiry set, changed, cleared) in the batch of its change: written
 * only if the credential exists, and for an edit only if the edit landed (`version`).
 */
function lifecycleEvent(db: D1Database, who: AuditContext, at: string, row: { id: string; name: string }, action: string, version?: string): D1PreparedStatement {
  return insertAuditEvent(db, who, at, { action, target_type: "credential", target_id: row.id, target_name: row.name }, ifRowExists("credentials", row.id, version));
}

/**
 * Deletion is for good: the KV marker goes first (tokens already issued die at once in this
 * location), then the row and its audit event in one batch. A second delete is a 404.
 * `detail` goes into the audit event: where a leaked secret was found, when secret scanning
 * deletes it, which also sends `credential.leaked`.
 */
export async function deleteCredential(env: Env, who: AuditContext, id: string, detail: string | null = null): Promise<void> {
  const [row, grants] = await Promise.all([credentials.getCredentialWithAccount(env.DB, id), grantsOf(env, id)]);
  if (!row) throw notFound();
  // Before the commit (fail closed): its tokens die, and its entry says deleted.
  await revocation.credentialDeleted(env.REVOCATIONS, id);
  await edgeEntries.restrict(env, row, () => deletedEntry(row));
  const at = nowIso();
  const shown = { ...toCredential(row), grants };
  const exists = ifRowExists("credentials", id);
  const statements = [
    insertAuditEvent(env.DB, who, at, { action: "credential.delete", target_type: "credential", target_id: id, target_name: row.name, detail }, exists),
    eventAfterAudit(env.DB, "credential.deleted", at, shown),
    // A scanner's report (`detail` is where the secret was found) is also a leak.
    ...(detail === null ? [] : [eventIf(env.DB, "credential.leaked", row.organization_id, at, { ...shown, leaked_at: at, leak_url: detail }, exists)]),
    credentials.deleteCredential(env.DB, id),
  ];
  const results = await commit(env.DB, statements);
  if (!results[statements.length - 1]) throw notFound();
  await revocation.assertCredentialDeleted(env.REVOCATIONS, id);
  await edgeEntries.publish(env, row);
}

/**
 * A new secret for the same credential (same client_id). The previous secret keeps working for
 * `expiresIn` seconds (0: it dies at once); only one previous secret is kept, so rolling again
 * ends an earlier grace period at once.
 */
export async function rollCredential(
  env: Env,
  who: AuditContext,
  id: string,
  expiresIn: number,
  idempotencyKey?: string,
): Promise<CredentialWithSecret | Replayed> {
  const hash = idempotencyKey === undefined ? "" : await requestHash("credential.roll", { id, expiresIn });
  // A retry must not touch the markers again (it would revoke tokens of the new secret).
  if (idempotencyKey !== undefined && (await getIdempotencyKey(env.DB, who.actor, idempotencyKey))) {
    return replay(env, who, idempotencyKey, hash);
  }
  for (let attempt = 0; ; attempt++) {
    const [row, grants] = await Promise.all([rowForAttempt(env, id, attempt), grantsOf(env, id)]);
    if (row.token_endpoint_auth_method === "private_key_jwt") {
      throw new ApiError("invalid_request", "A private_key_jwt client has no secret to roll: rotate its keys with a PATCH of jwks.");
    }
    if (attempt > MAX_EDIT_RETRIES) throw conflict();
    const at = nextVersion(row);
    const { reveal, stored } = await newSecret(row.type);
    const previousExpiresAt = expiresIn > 0 ? nowIso(Date.parse(at) + expiresIn * 1000) : null;
    const claim = idempotencyKey === undefined ? null : { actor: who.actor, key: idempotencyKey, operation: "credential.roll", request_hash: hash, credential_id: id, created_at: at };
    const statements = [
      ...(claim ? [claimIdempotencyKey(env.DB, claim)] : []),
      credentials.rollSecret(env.DB, id, stored, previousExpiresAt, row.updated_at, at, claim !== null),
      insertAuditEvent(env.DB, who, at, { action: "credential.roll", target_type: "credential", target_id: id, target_name: row.name }, IF_CHANGED),
      eventAfterAudit(env.DB, "credential.rolled", at, {
        ...toCredential({ ...row, hint: stored.hint, previous_secret_hash: expiresIn > 0 ? row.secret_hash : null, previous_secret_expires_at: previousExpiresAt, leaked_at: null, leak_url: null, updated_at: at }),
        grants,
      }),
      // A roll that lost the race gives its fresh claim back, so the next attempt can make it.
      ...(claim ? [releaseIdempotencyKey(env.DB, claim)] : []),
    ];
    const rollIndex = claim ? 1 : 0;
    // With no grace period the old secret is treated as leaked: before the commit (fail closed)
    // it stops working at the edge and the tokens it issued die.
    if (expiresIn === 0) {
      await revocation.credentialRolled(env.REVOCATIONS, id, Date.parse(at), "down");
      await edgeEntries.restrict(env, row, (entry) => ({ ...entry, secret_hash: "", previous_secret_hash: null, previous_secret_expires_at: null }));
    }
    const changes = await commit(env.DB, statements);
    if (changes[rollIndex]) {
      await edgeEntries.publish(env, row);
      // The old secret could mint until the commit landed: its tokens up to now die as well.
      if (expiresIn === 0) await revocation.credentialRolled(env.REVOCATIONS, id, Date.now(), "up");
      return { ...(await getCredential(env, id)), ...reveal };
    }
    if (claim && !changes[0]) return replay(env, who, claim.key, hash); // the same request, sent twice at once
  }
}
