import { type AuditEventFilter, type AuditEventRow, listAuditEvents as list } from "../storage/audit-events";
import { type Page, type Position, toPage } from "../storage/pagination";

export type AuditEvent = AuditEventRow;

export async function listAuditEvents(
  env: Env,
  filter: AuditEventFilter,
  limit: number,
  after: Position | null,
): Promise<Page<AuditEvent>> {
  const rows = await list(env.DB, limit + 1, after, filter);
  return toPage(rows, limit, (row) => ({ time: row.at, id: row.id }));
}
