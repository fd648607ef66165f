import { ApiError } from "../http/errors";
import { type AuditContext, insertAuditEvent, IF_CHANGED } from "../storage/audit-events";
import { eventAfterAudit } from "./webhook-events";
import { grantRowsOf } from "../storage/apis";
import { endPreviousSecret } from "../storage/credential-grace";
import { commit } from "../storage/d1";
import * as credentials from "../storage/credentials";
import { type Credential, getCredential, toCredential } from "./credentials";
import { nowIso } from "./ids";
import { edgeEntries } from "./edge-entries";

/**
 * "End grace now": after a roll, the previous secret stops working at once instead of at the
 * end of its grace period (the admin has moved every client to the new one). Tokens it already
 * issued keep their minute: they cannot be told apart from the new secret's, which must live.
 * `detail` goes into the audit event (a leak's URL, when secret scanning ends the grace).
 */
export async function endGrace(env: Env, who: AuditContext, id: string, detail: string | null = null): Promise<Credential> {
  const [row, grantRows] = await Promise.all([credentials.getCredentialWithAccount(env.DB, id), detail === null ? [] : grantRowsOf(env.DB, [id])]);
  if (!row) throw new ApiError("not_found", "No credential has this id.");
  const credential = toCredential(row);
  // For a scanner's report (its webhook event shows the credential whole).
  const grants = toCredential(row, Date.now(), grantRows).grants;
  if (credential.previous_secret_expires_at === null) {
    throw new ApiError("invalid_request", "This credential has no previous secret in a grace period.");
  }
  // The version after the row's own, as every change of a credential row needs (see credentials.ts).
  const at = nowIso(Math.max(Date.now(), Date.parse(row.updated_at) + 1));
  // Taken away at the edge before the commit (fail closed), then published from D1.
  await edgeEntries.restrict(env, row, (entry) => ({ ...entry, previous_secret_hash: null, previous_secret_expires_at: null }));
  await commit(env.DB, [
    endPreviousSecret(env.DB, id, at),
    insertAuditEvent(env.DB, who, at, { action: "credential.end_grace", target_type: "credential", target_id: id, target_name: credential.name, detail }, IF_CHANGED),
    // A scanner's report of the previous secret (`detail` is where it was found) is a leak.
    ...(detail === null ? [] : [eventAfterAudit(env.DB, "credential.leaked", at, { ...credential, grants, previous_secret_expires_at: null, previous_secret_last_used_at: null, leaked_at: at, leak_url: detail })]),
  ]);
  await edgeEntries.publish(env, row);
  // Unchanged means a deletion (then this is a 404), a roll or the cron got there first: either way
  // there is no grace left to end, and the credential as it is now is the answer.
  return getCredential(env, id);
}
