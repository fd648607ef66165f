import { all, contains, equalities } from "./d1";
import type { AccountRow, AccountStatus, AccountType } from "./accounts";
import type { CredentialRow, CredentialType } from "./credentials";
import type { Position } from "./pagination";

/**
 * The console's finding queries: search and filters over credentials and accounts, paged in
 * either direction from a keyset position (newest first on the page either way). Reads only.
 */

/** "older": rows strictly older than the position; "newer": strictly newer (read oldest first). */
export type Direction = "older" | "newer";

export interface CredentialSearch {
  /** Part of the name, a client id (or its start), or the secret's last characters. */
  text: string | null;
  account_id: string | null;
  type: CredentialType | null;
  /** The status of the credential's account. */
  account_status: AccountStatus | null;
  /** Only the credentials of this organization's accounts (an organization's console). */
  organization_id?: string | null;
}

export interface AccountSearch {
  /** Part of the name, or the account id. */
  text: string | null;
  type: AccountType | null;
  status: AccountStatus | null;
  /** Only this organization's accounts (an organization's console). */
  organization_id?: string | null;
}

/** LIKE (ESCAPE '\\') with the pattern characters of the search text taken literally. */
function startsWith(text: string): string {
  return `${text.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
}

function keyset(prefix: string, after: Position | null, direction: Direction) {
  const order = direction === "older" ? "DESC" : "ASC";
  const condition = after ? `(${prefix}created_at, ${prefix}id) ${direction === "older" ? "<" : ">"} (?, ?)` : null;
  return { condition, values: after ? [after.time, after.id] : [], orderBy: `ORDER BY ${prefix}created_at ${order}, ${prefix}id ${order}` };
}

/** Up to `limit` rows from the position in the direction, returned newest first. */
export async function searchCredentials(
  db: D1Database,
  search: CredentialSearch,
  limit: number,
  after: Position | null,
  direction: Direction,
): Promise<CredentialRow[]> {
  const { conditions, values } = equalities({ "c.account_id": search.account_id, "c.type": search.type, "a.status": search.account_status, "a.organization_id": search.organization_id });
  if (search.text !== null) {
    // The hint is stored as the secret's last 4 characters; a longer ending still matches it.
    const ending = search.text.replace(/^…/, "");
    conditions.push("(c.name LIKE ? ESCAPE '\\' OR c.client_id LIKE ? ESCAPE '\\' OR c.id = ? OR (length(?) >= 4 AND substr(?, -4) = c.hint))");
    values.push(contains(search.text), startsWith(search.text), search.text, ending, ending);
  }
  const page = keyset("c.", after, direction);
  if (page.condition) conditions.push(page.condition);
  const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
  const rows = await all<CredentialRow>(
    db
      .prepare(`SELECT c.* FROM credentials c JOIN accounts a ON a.id = c.account_id ${where} ${page.orderBy} LIMIT ?`)
      .bind(...values, ...page.values, limit),
  );
  return direction === "older" ? rows : rows.reverse();
}

export async function searchAccounts(
  db: D1Database,
  search: AccountSearch,
  limit: number,
  after: Position | null,
  direction: Direction,
): Promise<AccountRow[]> {
  const { conditions, values } = equalities({ type: search.type, status: search.status, organization_id: search.organization_id });
  if (search.text !== null) {
    conditions.push("(name LIKE ? ESCAPE '\\' OR id = ?)");
    values.push(contains(search.text), search.text);
  }
  const page = keyset("", after, direction);
  if (page.condition) conditions.push(page.condition);
  const where = conditions.length ? `WHERE ${conditions.join(" AND ")}` : "";
  const rows = await all<AccountRow>(
    db.prepare(`SELECT * FROM accounts ${where} ${page.orderBy} LIMIT ?`).bind(...values, ...page.values, limit),
  );
  return direction === "older" ? rows : rows.reverse();
}

/** Name and status of the given accounts (a page's worth), for lists that show whose a credential is. */
export function getAccountSummaries(db: D1Database, ids: string[]): Promise<{ id: string; name: string; status: AccountStatus }[]> {
  if (ids.length === 0) return Promise.resolve([]);
  const placeholders = ids.map(() => "?").join(", ");
  return all<{ id: string; name: string; status: AccountStatus }>(
    db.prepare(`SELECT id, name, status FROM accounts WHERE id IN (${placeholders})`).bind(...ids),
  );
}
