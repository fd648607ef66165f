import { all, contains, equalities, first } from "./d1";
import type { Position } from "./pagination";

/**
 * Organizations (table `organizations`, migration 0009): the tenants every account belongs to.
 * `org_default` always exists; accounts made without an organization belong to it.
 */
export const DEFAULT_ORGANIZATION_ID = "org_default";

export type OrganizationStatus = "active" | "deactivated";

export interface OrganizationRow {
  id: string;
  name: string;
  external_id: string | null;
  status: OrganizationStatus;
  /** JSON object, or null. */
  metadata: string | null;
  /** JSON [{api_id, scopes}], or null: no ceiling. */
  grants: string | null;
  created_at: string;
  updated_at: string;
  deactivated_at: string | null;
}

const COLUMNS = "id, name, external_id, status, metadata, grants, created_at, updated_at, deactivated_at";

/** Inserts the organization unless another has its external_id (then no row changes). */
export function insertOrganization(db: D1Database, row: OrganizationRow): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO organizations (${COLUMNS}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE ?10 IS NULL OR NOT EXISTS (SELECT 1 FROM organizations WHERE external_id = ?10)`)
    .bind(row.id, row.name, row.external_id, row.status, row.metadata, row.grants, row.created_at, row.updated_at, row.deactivated_at, row.external_id);
}

export function getOrganization(db: D1Database, id: string): Promise<OrganizationRow | null> {
  return first<OrganizationRow>(db.prepare(`SELECT ${COLUMNS} FROM organizations WHERE id = ?`).bind(id));
}

export interface OrganizationFilter {
  /** Only this organization (an organization admin's list). */
  id?: string | null;
  /** Exactly this external_id. */
  external_id: string | null;
  /** Name contains (case-insensitive for ASCII, as SQLite's LIKE). */
  q: string | null;
}

/** Newest first from `after`. */
export function listOrganizations(db: D1Database, filter: OrganizationFilter, limit: number, after: Position | null): Promise<OrganizationRow[]> {
  const { conditions, values } = equalities({ id: filter.id, external_id: filter.external_id });
  if (filter.q !== null) {
    conditions.push("name LIKE ? ESCAPE '\\'");
    values.push(contains(filter.q));
  }
  if (after) {
    conditions.push("(created_at, id) < (?, ?)");
    values.push(after.time, after.id);
  }
  const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
  return all<OrganizationRow>(db.prepare(`SELECT ${COLUMNS} FROM organizations ${where} ORDER BY created_at DESC, id DESC LIMIT ?`).bind(...values, limit));
}

/** What an edit may set; absent fields are kept (null sets a nullable field to null). */
export interface OrganizationChanges {
  name?: string;
  external_id?: string | null;
  metadata?: string | null;
  grants?: string | null;
}

/**
 * Applies the changes only if the row is still at `version`, and only if no other organization
 * has the new external_id (then no row changes and the caller tells which it was).
 */
export function updateOrganization(db: D1Database, id: string, changes: OrganizationChanges, version: string, updatedAt: string): D1PreparedStatement {
  const names = Object.keys(changes) as (keyof OrganizationChanges)[];
  const sets = [...names.map((name) => `${name} = ?`), "updated_at = ?"].join(", ");
  const externalId = changes.external_id ?? null;
  return db
    .prepare(`UPDATE organizations SET ${sets} WHERE id = ? AND updated_at = ? AND (? IS NULL OR NOT EXISTS (SELECT 1 FROM organizations WHERE external_id = ? AND id <> ?))`)
    .bind(...names.map((name) => changes[name] ?? null), updatedAt, id, version, externalId, externalId, id);
}

/** Changes the status only when it differs, so `changes` tells whether anything happened. */
export function setOrganizationStatus(db: D1Database, id: string, status: OrganizationStatus, deactivatedAt: string | null, updatedAt: string): D1PreparedStatement {
  return db
    .prepare("UPDATE organizations SET status = ?, deactivated_at = ?, updated_at = ? WHERE id = ? AND status <> ?")
    .bind(status, deactivatedAt, updatedAt, id, status);
}

export function findByExternalId(db: D1Database, externalId: string): Promise<OrganizationRow | null> {
  return first<OrganizationRow>(db.prepare(`SELECT ${COLUMNS} FROM organizations WHERE external_id = ?`).bind(externalId));
}

/** Deletes the organization only while no account belongs to it. */
export function deleteEmptyOrganization(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM organizations WHERE id = ? AND NOT EXISTS (SELECT 1 FROM accounts WHERE organization_id = ?)").bind(id, id);
}

export async function countAccountsOfOrganization(db: D1Database, id: string): Promise<number> {
  const row = await first<{ n: number }>(db.prepare("SELECT count(*) AS n FROM accounts WHERE organization_id = ?").bind(id));
  return row?.n ?? 0;
}
