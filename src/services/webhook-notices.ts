import { grantRowsOf } from "../storage/apis";
import { credentialsDueNotice } from "../storage/credentials";
import { commit } from "../storage/d1";
import { insertEventIf } from "../storage/webhooks";
import { toCredential } from "./credentials";
import { newId } from "./ids";

const DAY_MS = 86_400_000;
/** Notices per kind per cron run; the next run takes the rest. */
const NOTICES_PER_RUN = 100;

/**
 * The cron's notices: `credential.expiring` when a credential enters its last 7 days and again
 * its last day, and `credential.expired` once it has passed (within the last 2 days: a long-
 * expired credential is old news). Each once per credential and expiry (a changed expiry notifies
 * again), and only while an endpoint subscribes.
 */
export async function recordExpiryNotices(env: Env, now: number): Promise<number> {
  const iso = (ms: number) => new Date(ms).toISOString();
  const kinds = [
    { type: "credential.expiring" as const, key: "credential.expiring:7", from: now + DAY_MS, to: now + 7 * DAY_MS },
    { type: "credential.expiring" as const, key: "credential.expiring:1", from: now, to: now + DAY_MS },
    { type: "credential.expired" as const, key: "credential.expired", from: now - 2 * DAY_MS, to: now },
  ];
  let recorded = 0;
  for (const kind of kinds) {
    const rows = await credentialsDueNotice(env.DB, { from: iso(kind.from), to: iso(kind.to) }, kind.type, kind.key, NOTICES_PER_RUN);
    if (rows.length === 0) continue;
    const grants = await grantRowsOf(env.DB, rows.map((row) => row.id));
    const at = iso(now);
    await commit(
      env.DB,
      rows.map((row) =>
        insertEventIf(
          env.DB,
          { id: newId("msg"), type: kind.type, organization_id: row.organization_id, at, data: toCredential(row, now, grants), dedupe_key: `${kind.key}:${row.id}:${row.expires_at}` },
          { sql: "1", values: [] },
        ),
      ),
    );
    recorded += rows.length;
  }
  return recorded;
}
