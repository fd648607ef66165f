import { ApiError } from "../http/errors";
import { sha256Hex } from "../lib/crypto";
import { getAccount } from "../storage/accounts";
import { type AuditContext, insertAuditEvent } from "../storage/audit-events";
import * as credentials from "../storage/credentials";
import type { CredentialFilter, CredentialRow, CredentialType } from "../storage/credentials";
import { commit } from "../storage/d1";
import { claimIdempotencyKey, getIdempotencyKey } from "../storage/idempotency-keys";
import { type Page, type Position, toPage } from "../storage/pagination";
import { newId, nowIso } from "./ids";
import { revocation } from "./revocation";
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
}

/** The one response that carries a secret: creation (and rolling). */
export type CredentialWithSecret = Credential & ({ client_secret: string } | { api_key: string });

export function toCredential(row: CredentialRow, now = Date.now()): Credential {
  const graceRunning = row.previous_secret_expires_at !== null && Date.parse(row.previous_secret_expires_at) > now;
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
    previous_secret_expires_at: graceRunning ? row.previous_secret_expires_at : null,
  };
}

const notFound = () => new ApiError("not_found", "No credential has this id.");

/** A new secret for a credential of this type, with what is stored of it. */
async function newSecret(type: CredentialType) {
  const secret = generateSecret(type === "api_key" ? "api_key" : "client_secret");
  const reveal = type === "api_key" ? { api_key: secret } : { client_secret: secret };
  return { reveal, stored: { hash: await sha256Hex(secret), hint: hintOf(secret) } };
}

export interface NewCredential {
  name: string;
  type: CredentialType;
  account_id: string;
  scopes: string[];
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
  if (!account) throw new ApiError("not_found", "account_id does not name an account.");
  // Its credentials would be refused everywhere: say so instead of creating a dead one.
  if (account.status === "deactivated") {
    throw new ApiError("invalid_request", "The account is deactivated; activate it before creating credentials for it.");
  }
  const at = nowIso();
  const { reveal, stored } = await newSecret(input.type);
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
    scopes: JSON.stringify(input.scopes),
    created_at: at,
    updated_at: at,
    last_used_at: null,
  };
  const audit = insertAuditEvent(env.DB, who, at, { action: "credential.create", target_type: "credential", target_id: row.id, target_name: row.name }, {
    sql: "changes() > 0",
    values: [],
  });
  if (idempotencyKey === undefined) {
    await commit(env.DB, [credentials.insertCredential(env.DB, row), audit]);
    return { ...toCredential(row), ...reveal };
  }
  const hash = await requestHash("credential.create", input);
  const [claimed] = await commit(env.DB, [
    claimIdempotencyKey(env.DB, { actor: who.actor, key: idempotencyKey, operation: "credential.create", request_hash: hash, credential_id: row.id, created_at: at }),
    credentials.insertCredential(env.DB, row, true),
    audit,
  ]);
  return claimed ? { ...toCredential(row), ...reveal } : replay(env, who, idempotencyKey, hash);
}

/**
 * The `updated_at` of a change: now, but always after the row's current one, because it is
 * also the version that the `changed` marker compares cached and replica copies against.
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
  return toCredential(await mustGet(env, id));
}

export async function listCredentials(
  env: Env,
  filter: CredentialFilter,
  limit: number,
  after: Position | null,
): Promise<Page<Credential>> {
  const rows = await credentials.listCredentials(env.DB, filter, limit + 1, after);
  const page = toPage(rows, limit, (row) => ({ time: row.created_at, id: row.id }));
  return { data: page.data.map((row) => toCredential(row)), next_cursor: page.next_cursor };
}

export async function updateCredential(
  env: Env,
  who: AuditContext,
  id: string,
  changes: { name?: string | undefined; scopes?: string[] | undefined },
): Promise<Credential> {
  // Nothing to change (`{}`): answer like a get, with no write and no audit event.
  if (changes.name === undefined && changes.scopes === undefined) return getCredential(env, id);
  const current = await mustGet(env, id);
  const at = nextVersion(current);
  // Before the change, so no cached or replica copy of the old scopes outlives it (fail closed).
  await revocation.credentialChanged(env.REVOCATIONS, id, at);
  const [changed] = await commit(env.DB, [
    credentials.updateCredential(
      env.DB,
      id,
      { name: changes.name ?? null, scopes: changes.scopes ? JSON.stringify(changes.scopes) : null },
      at,
    ),
    insertAuditEvent(env.DB, who, at, { action: "credential.update", target_type: "credential", target_id: id, target_name: changes.name ?? current.name }, {
      sql: "changes() > 0",
      values: [],
    }),
  ]);
  if (!changed) {
    // The row was there a moment ago: a deletion raced this edit. Keep the deletion final.
    await revocation.assertCredentialDeleted(env.REVOCATIONS, id);
    throw notFound();
  }
  return getCredential(env, id);
}

/**
 * Deletion is for good: the KV marker goes first (tokens already issued die at once in this
 * location), then the row and its audit event in one batch. A second delete is a 404.
 */
export async function deleteCredential(env: Env, who: AuditContext, id: string): Promise<void> {
  const row = await mustGet(env, id);
  await revocation.credentialDeleted(env.REVOCATIONS, id);
  const at = nowIso();
  const results = await commit(env.DB, [
    insertAuditEvent(env.DB, who, at, { action: "credential.delete", target_type: "credential", target_id: id, target_name: row.name }, {
      sql: "EXISTS (SELECT 1 FROM credentials WHERE id = ?)",
      values: [id],
    }),
    credentials.deleteCredential(env.DB, id),
  ]);
  if (!results[1]) throw notFound();
  await revocation.assertCredentialDeleted(env.REVOCATIONS, id);
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
  const row = await mustGet(env, id);
  const hash = idempotencyKey === undefined ? "" : await requestHash("credential.roll", { id, expiresIn });
  // A retry must not touch the markers again (it would revoke tokens of the new secret).
  if (idempotencyKey !== undefined && (await getIdempotencyKey(env.DB, who.actor, idempotencyKey))) {
    return replay(env, who, idempotencyKey, hash);
  }
  const at = nextVersion(row);
  const previousExpiresAt = expiresIn > 0 ? nowIso(Date.parse(at) + expiresIn * 1000) : null;
  const { reveal, stored } = await newSecret(row.type);
  const statements = [
    ...(idempotencyKey === undefined
      ? []
      : [claimIdempotencyKey(env.DB, { actor: who.actor, key: idempotencyKey, operation: "credential.roll", request_hash: hash, credential_id: id, created_at: at })]),
    credentials.rollSecret(env.DB, id, stored, previousExpiresAt, at, idempotencyKey !== undefined),
    insertAuditEvent(env.DB, who, at, { action: "credential.roll", target_type: "credential", target_id: id, target_name: row.name }, {
      sql: "changes() > 0",
      values: [],
    }),
  ];
  // Markers first (fail closed): copies of the old row are stale from now on, and with no grace
  // period the old secret is treated as leaked, so the tokens it issued die too.
  await revocation.credentialChanged(env.REVOCATIONS, id, at, expiresIn === 0);
  const changes = await commit(env.DB, statements);
  if (idempotencyKey !== undefined && !changes[0]) return replay(env, who, idempotencyKey, hash);
  if (!changes[statements.length - 2]) {
    await revocation.assertCredentialDeleted(env.REVOCATIONS, id); // a deletion raced this roll
    throw notFound();
  }
  return { ...(await getCredential(env, id)), ...reveal };
}
