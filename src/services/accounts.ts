import { ApiError, invalidField } from "../http/errors";
import * as accounts from "../storage/accounts";
import type { AccountRow, AccountType } from "../storage/accounts";
import { type AuditContext, insertAuditEvent, insertCredentialDeletionsOfAccount, IF_CHANGED, ifRowExists } from "../storage/audit-events";
import { deleteCredentialsOfAccount } from "../storage/credentials";
import { commit } from "../storage/d1";
import { type Page, type Position, toPage } from "../storage/pagination";
import { DEFAULT_ORGANIZATION_ID } from "../storage/organizations";
import { type Metadata, storedObject } from "../lib/claims";
import { newId, nowIso } from "./ids";
import { eventAfterAudit } from "./webhook-events";
import { edgeEntries } from "./edge-entries";
import { revocation } from "./revocation";

export interface Account {
  id: string;
  name: string;
  type: AccountType;
  status: accounts.AccountStatus;
  organization_id: string;
  metadata: Metadata | null;
  created_at: string;
}

export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    status: row.status,
    organization_id: row.organization_id,
    metadata: row.metadata === null ? null : (JSON.parse(row.metadata) as Metadata),
    created_at: row.created_at,
  };
}

export const accountNotFound = () => new ApiError("not_found", "No account has this id.");
const notFound = accountNotFound;

async function mustGet(env: Env, id: string): Promise<AccountRow> {
  const row = await accounts.getAccount(env.DB, id);
  if (!row) throw notFound();
  return row;
}

/** What naming an unknown or deactivated organization answers. */
export const unknownOrganization = () => invalidField("organization_id", "organization_id must name an active organization.");

/** Creates an account in `organization_id` (default: org_default), which must exist and be active. */
export async function createAccount(
  env: Env,
  who: AuditContext,
  input: { name: string; type: AccountType; organization_id?: string | undefined; metadata?: Metadata | null | undefined },
): Promise<Account> {
  const at = nowIso();
  const organizationId = input.organization_id ?? DEFAULT_ORGANIZATION_ID;
  const row: AccountRow = {
    id: newId("acct"),
    name: input.name,
    type: input.type,
    status: "active",
    organization_id: organizationId,
    created_at: at,
    deactivated_at: null,
    metadata: storedObject(input.metadata ?? null),
  };
  const [inserted] = await commit(env.DB, [
    accounts.insertAccount(env.DB, row),
    insertAuditEvent(env.DB, who, at, { action: "account.create", target_type: "account", target_id: row.id, target_name: row.name }, IF_CHANGED),
    eventAfterAudit(env.DB, "account.created", at, toAccount(row)),
  ]);
  if (!inserted) throw unknownOrganization();
  return toAccount(row);
}

export async function getAccount(env: Env, id: string): Promise<Account> {
  return toAccount(await mustGet(env, id));
}

/** The account, or null when there is none (a store failure still throws). */
export async function findAccount(env: Env, id: string): Promise<Account | null> {
  const row = await accounts.getAccount(env.DB, id);
  return row ? toAccount(row) : null;
}

export async function listAccounts(env: Env, organizationId: string | null, limit: number, after: Position | null): Promise<Page<Account>> {
  const rows = await accounts.listAccounts(env.DB, organizationId, limit + 1, after);
  const page = toPage(rows, limit, (row) => ({ time: row.created_at, id: row.id }));
  return { data: page.data.map(toAccount), next_cursor: page.next_cursor };
}

/**
 * Renames the account and/or replaces its metadata. Both are sources of custom claims, so every
 * credential's edge entry is published after the commit, from a fresh read of D1 and read back
 * like every other change (a deactivation racing this one still wins: it is in D1).
 */
export async function updateAccount(env: Env, who: AuditContext, id: string, changes: { name?: string | undefined; metadata?: Metadata | null | undefined }): Promise<Account> {
  const row = await mustGet(env, id);
  if (changes.name === undefined && changes.metadata === undefined) return toAccount(row);
  const at = nowIso();
  const stored = changes.metadata === undefined ? undefined : storedObject(changes.metadata);
  const [changed] = await commit(env.DB, [
    accounts.updateAccount(env.DB, id, { name: changes.name, metadata: stored }),
    insertAuditEvent(env.DB, who, at, { action: "account.update", target_type: "account", target_id: id, target_name: changes.name ?? row.name }, IF_CHANGED),
  ]);
  if (changed) await edgeEntries.publishAccount(env, id, []);
  return getAccount(env, id);
}

/**
 * Deactivation stops every credential of the account and every token they issued. The KV
 * marker is written first: if D1 then fails, the account is stopped anyway (fail closed) and
 * the admin's retry completes the change.
 */
export async function deactivateAccount(env: Env, who: AuditContext, id: string): Promise<Account> {
  const row = await mustGet(env, id);
  await revocation.accountDeactivated(env.REVOCATIONS, id);
  const rows = await edgeEntries.restrictAccount(env, id, (entry) => ({ ...entry, account_active: false }));
  if (row.status === "deactivated") {
    await edgeEntries.publishAccount(env, id, rows); // a retry repairs what a failure left
    return toAccount(row);
  }
  const at = nowIso();
  const [changed] = await commit(env.DB, [
    accounts.setAccountStatus(env.DB, id, "deactivated", at),
    insertAuditEvent(env.DB, who, at, { action: "account.deactivate", target_type: "account", target_id: id, target_name: row.name }, IF_CHANGED),
    eventAfterAudit(env.DB, "account.deactivated", at, toAccount({ ...row, status: "deactivated", deactivated_at: at })),
  ]);
  // A racing activation may have written its marker over ours: D1 says deactivated, so KV must too.
  await revocation.assertAccountDeactivated(env.REVOCATIONS, id);
  await edgeEntries.publishAccount(env, id, rows);
  return changed ? toAccount({ ...row, status: "deactivated", deactivated_at: at }) : getAccount(env, id);
}

/**
 * Reactivation revives the account's credentials, never the tokens issued before the
 * deactivation: the marker changes from "all" to "before the deactivation second".
 */
export async function activateAccount(env: Env, who: AuditContext, id: string): Promise<Account> {
  const row = await mustGet(env, id);
  if (row.status === "active") {
    // Rewritten from D1 so that a retry repairs a marker that D1 does not back: a reactivation
    // marker whose write failed after the D1 change, or the `all` of a deactivation whose D1
    // change failed (which would otherwise stop every credential for good).
    return markReactivated(env, id, row.deactivated_at);
  }
  const at = nowIso();
  const [changed] = await commit(env.DB, [
    accounts.setAccountStatus(env.DB, id, "active", row.deactivated_at),
    insertAuditEvent(env.DB, who, at, { action: "account.activate", target_type: "account", target_id: id, target_name: row.name }, IF_CHANGED),
    eventAfterAudit(env.DB, "account.activated", at, toAccount({ ...row, status: "active" })),
  ]);
  // Deleted (or activated by someone else) since it was read: no marker, which could overwrite
  // a concurrent deletion's {"all"} and revive the deleted account's tokens. 404 if it is gone.
  if (!changed) return getAccount(env, id);
  return markReactivated(env, id, row.deactivated_at ?? at);
}

/**
 * Writes the reactivation marker, then re-reads D1: a deactivation (or deletion) that ran while
 * the marker was on its way wins, and gets its marker back (KV has no compare-and-set).
 */
async function markReactivated(env: Env, id: string, deactivatedAt: string | null): Promise<Account> {
  await (deactivatedAt === null
    ? revocation.accountNeverDeactivated(env.REVOCATIONS, id)
    : revocation.accountReactivated(env.REVOCATIONS, id, deactivatedAt));
  const now = await accounts.getAccount(env.DB, id);
  if (now && now.status !== "active") await revocation.assertAccountDeactivated(env.REVOCATIONS, id);
  if (!now) await revocation.accountDeleted(env.REVOCATIONS, id);
  // The credentials' entries follow D1 (and lose what a failed deactivation left in them).
  await edgeEntries.publishAccount(env, id, []);
  return now?.status === "active" ? toAccount(now) : getAccount(env, id);
}

/** Deletes the account and its credentials, with one audit event for each, in one batch. */
export async function deleteAccount(env: Env, who: AuditContext, id: string): Promise<void> {
  const row = await mustGet(env, id);
  // Before the commit (fail closed): the account marker stops all their tokens, and each
  // credential's entry says deleted.
  await revocation.accountDeleted(env.REVOCATIONS, id);
  const rows = await edgeEntries.restrictAccount(env, id, (entry) => ({ id: entry.id, account_id: entry.account_id, type: entry.type, deleted: true }));
  const at = nowIso();
  const exists = ifRowExists("accounts", id);
  const results = await commit(env.DB, [
    insertCredentialDeletionsOfAccount(env.DB, who, at, id),
    insertAuditEvent(env.DB, who, at, { action: "account.delete", target_type: "account", target_id: id, target_name: row.name }, exists),
    eventAfterAudit(env.DB, "account.deleted", at, toAccount(row)),
    deleteCredentialsOfAccount(env.DB, id),
    accounts.deleteAccount(env.DB, id),
  ]);
  if (!results[4]) throw notFound();
  // An activation that read the account before this commit may have replaced our marker.
  await revocation.assertAccountDeleted(env.REVOCATIONS, id);
  await edgeEntries.publishAccount(env, id, rows);
}
