import { type Account, toAccount } from "./accounts";
import { type Credential, toCredential } from "./credentials";
import type { AuditEvent } from "./audit";
import { listAuditEvents } from "../storage/audit-events";
import { countCredentialsOfAccount } from "../storage/credentials";
import { type Position, encodeCursor } from "../storage/pagination";
import {
  type AccountSearch,
  type CredentialSearch,
  type Direction,
  getAccountSummaries,
  searchAccounts,
  searchCredentials,
} from "../storage/search";

export type { AccountSearch, CredentialSearch, Direction };

/**
 * Finding things in the console: search and filters, paged both ways. A page is newest first
 * and says where the next older and next newer pages start (cursors, as the API's lists use).
 */
export interface TwoWayPage<T> {
  data: T[];
  /** Cursor for the page after this one (older rows), or null at the end. */
  older: string | null;
  /** Cursor for the page before this one (newer rows), or null on the first page. */
  newer: string | null;
}

export interface PageRequest {
  limit: number;
  /** A position and which way to go from it; null: the first (newest) page. */
  from: { position: Position; direction: Direction } | null;
}

async function twoWay<R>(
  fetch: (limit: number, after: Position | null, direction: Direction) => Promise<R[]>,
  request: PageRequest,
  positionOf: (row: R) => Position,
): Promise<TwoWayPage<R>> {
  const { limit, from } = request;
  if (from?.direction === "newer") {
    const rows = await fetch(limit + 1, from.position, "newer");
    // Fewer than a page newer than the position: that is the first page, shown as the first page is.
    if (rows.length > limit) {
      const data = rows.slice(1);
      return { data, newer: encodeCursor(positionOf(data[0]!)), older: encodeCursor(positionOf(data[data.length - 1]!)) };
    }
    return twoWay(fetch, { limit, from: null }, positionOf);
  }
  const rows = await fetch(limit + 1, from?.position ?? null, "older");
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  const first = data[0];
  return {
    data,
    older: rows.length > limit && last ? encodeCursor(positionOf(last)) : null,
    newer: from ? encodeCursor(first ? positionOf(first) : from.position) : null,
  };
}

export async function findCredentials(env: Env, search: CredentialSearch, request: PageRequest): Promise<TwoWayPage<Credential>> {
  const page = await twoWay(
    (limit, after, direction) => searchCredentials(env.DB, search, limit, after, direction),
    request,
    (row) => ({ time: row.created_at, id: row.id }),
  );
  const now = Date.now();
  return { ...page, data: page.data.map((row) => toCredential(row, now)) };
}

export async function findAccounts(env: Env, search: AccountSearch, request: PageRequest): Promise<TwoWayPage<Account>> {
  const page = await twoWay(
    (limit, after, direction) => searchAccounts(env.DB, search, limit, after, direction),
    request,
    (row) => ({ time: row.created_at, id: row.id }),
  );
  return { ...page, data: page.data.map(toAccount) };
}

/** Audit events, about one target and/or of one organization (null: any). */
export function findAuditEvents(env: Env, targetId: string | null, request: PageRequest, organizationId: string | null = null): Promise<TwoWayPage<AuditEvent>> {
  return twoWay(
    (limit, after, direction) => listAuditEvents(env.DB, limit, after, { target_id: targetId, organization_id: organizationId }, direction),
    request,
    (row) => ({ time: row.at, id: row.id }),
  );
}

export function credentialCount(env: Env, accountId: string): Promise<number> {
  return countCredentialsOfAccount(env.DB, accountId);
}

/** Name and status of each account a page of credentials belongs to (at most 100 ids). */
export async function accountSummaries(env: Env, ids: string[]): Promise<Map<string, Pick<Account, "name" | "status">>> {
  const rows = await getAccountSummaries(env.DB, [...new Set(ids)].slice(0, 100));
  return new Map(rows.map((row) => [row.id, { name: row.name, status: row.status }]));
}
