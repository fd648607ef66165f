import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  call,
  createAccount,
  createCredential,
  expectError,
  expectRejected,
  json,
  uniqueName,
  walkPages,
} from "../support/http";

/** Lists: newest first, {data, next_cursor}, limit 1–100 (default 50), opaque cursors stable under inserts. */

type Page = { data: any[]; next_cursor: string | null };

const idsOf = (pages: Page[]) => pages.flatMap((page) => page.data.map((row) => row.id as string));

/** Every page but the last is full and has a cursor; the last has next_cursor null. */
function expectWellFormed(pages: Page[], limit: number) {
  expect(pages.length).toBeGreaterThan(0);
  pages.forEach((page, i) => {
    expect(Object.keys(page).sort()).toEqual(["data", "next_cursor"]);
    if (i < pages.length - 1) {
      expect(page.data).toHaveLength(limit);
      expect(typeof page.next_cursor).toBe("string");
      expect(page.next_cursor!.length).toBeGreaterThan(0);
    } else {
      expect(page.data.length).toBeLessThanOrEqual(limit);
      expect(page.next_cursor).toBeNull();
    }
  });
  const ids = idsOf(pages);
  expect(new Set(ids).size).toBe(ids.length);
}

/** Times never increase down the list. */
function expectNewestFirst(rows: any[], timeKey: string) {
  for (let i = 0; i + 1 < rows.length; i++) {
    if (rows[i][timeKey] < rows[i + 1][timeKey]) {
      throw new Error(`not newest first at ${i}: ${rows[i][timeKey]} before ${rows[i + 1][timeKey]}`);
    }
  }
}

/**
 * `created` is in creation order. Its rows carry non-decreasing times, and in `listed` every row
 * comes before the rows created earlier (rows of the same millisecond may come in either order).
 */
function expectCreationOrderReversed(created: any[], listed: any[], timeKey: string) {
  const position = new Map(listed.map((row, i) => [row.id, i]));
  for (let i = 0; i < created.length; i++) {
    expect(position.has(created[i].id)).toBe(true);
    for (let j = i + 1; j < created.length; j++) {
      expect(created[i][timeKey] <= created[j][timeKey]).toBe(true);
      if (created[i][timeKey] < created[j][timeKey]) {
        expect(position.get(created[j].id)!).toBeLessThan(position.get(created[i].id)!);
      }
    }
  }
}

async function storedIds(sql: string, ...values: unknown[]): Promise<string[]> {
  const rows = await env.DB.prepare(sql).bind(...values).all<{ id: string }>();
  return rows.results.map((row) => row.id).sort();
}

async function createAccounts(n: number) {
  const accounts = [];
  for (let i = 0; i < n; i++) accounts.push(await createAccount(i % 2 ? "user" : "service"));
  return accounts;
}

describe("accounts list", () => {
  it("walks 7+ accounts with limit=3: full pages, no overlap, no loss, newest first, null cursor at the end", async () => {
    const mine = await createAccounts(7);
    const stored = await storedIds("SELECT id FROM accounts");
    const pages = await walkPages("/admin/v1/accounts?limit=3");
    expectWellFormed(pages, 3);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    expect([...idsOf(pages)].sort()).toEqual(stored);
    const listed = pages.flatMap((page) => page.data);
    expectNewestFirst(listed, "created_at");
    expectCreationOrderReversed(mine, listed, "created_at");
    for (const account of mine) expect(listed.find((row) => row.id === account.id)).toEqual(account);
  });

  it("is stable under inserts: rows created between page fetches neither shift nor join later pages", async () => {
    await createAccounts(7);
    const stored = await storedIds("SELECT id FROM accounts");
    const inserted: string[] = [];
    const pages = await walkPages("/admin/v1/accounts?limit=3", async () => {
      for (const account of await createAccounts(2)) inserted.push(account.id);
    });
    expectWellFormed(pages, 3);
    expect(inserted.length).toBeGreaterThanOrEqual(4);
    expect([...idsOf(pages)].sort()).toEqual(stored);
    for (const id of inserted) expect(idsOf(pages)).not.toContain(id);
    expectNewestFirst(pages.flatMap((page) => page.data), "created_at");

    // A new walk starts with them.
    const first = await json(await call(`/admin/v1/accounts?limit=${inserted.length}`));
    expect([...first.data.map((row: any) => row.id)].sort()).toEqual([...inserted].sort());
  });

  it("pages with the default limit of 50 and up to 100", async () => {
    const count = async () => (await env.DB.prepare("SELECT count(*) AS n FROM accounts").first<{ n: number }>())!.n;
    if ((await count()) < 101) await createAccounts(101 - (await count()));
    const byDefault = await json(await call("/admin/v1/accounts"));
    expect(byDefault.data).toHaveLength(50);
    expect(typeof byDefault.next_cursor).toBe("string");
    const hundred = await json(await call("/admin/v1/accounts?limit=100"));
    expect(hundred.data).toHaveLength(100);
    expect(hundred.data.slice(0, 50)).toEqual(byDefault.data);
    const one = await json(await call("/admin/v1/accounts?limit=1"));
    expect(one.data).toEqual(byDefault.data.slice(0, 1));
    expect(typeof one.next_cursor).toBe("string");
  });
});

describe("credentials list", () => {
  async function accountWithCredentials() {
    const account = await createAccount();
    const created = [];
    // 4 oauth_client, 3 api_key, alternating.
    for (let i = 0; i < 7; i++) created.push(await createCredential(account.id, i % 2 ? "api_key" : "oauth_client"));
    return { account, created };
  }

  it("walks one account's 7 credentials with limit=3, filter kept on every page", async () => {
    const { account, created } = await accountWithCredentials();
    const other = await createAccount();
    await createCredential(other.id, "api_key");
    await createCredential(other.id, "oauth_client");

    const pages = await walkPages(`/admin/v1/credentials?account_id=${account.id}&limit=3`);
    expectWellFormed(pages, 3);
    expect(pages.map((page) => page.data.length)).toEqual([3, 3, 1]);
    const listed = pages.flatMap((page) => page.data);
    expect([...idsOf(pages)].sort()).toEqual(created.map((c) => c.id).sort());
    for (const row of listed) {
      expect(row.account_id).toBe(account.id);
      expect(row).not.toHaveProperty("client_secret");
      expect(row).not.toHaveProperty("api_key");
    }
    expectNewestFirst(listed, "created_at");
    expectCreationOrderReversed(created, listed, "created_at");
  });

  it("filters by type, alone and with account_id", async () => {
    const { account, created } = await accountWithCredentials();

    const keys = await walkPages(`/admin/v1/credentials?account_id=${account.id}&type=api_key&limit=2`);
    expectWellFormed(keys, 2);
    expect([...idsOf(keys)].sort()).toEqual(created.filter((c) => c.type === "api_key").map((c) => c.id).sort());

    const clients = await walkPages(`/admin/v1/credentials?type=oauth_client&account_id=${account.id}&limit=2`);
    expectWellFormed(clients, 2);
    // 4 rows, limit 2: the second page is the last, with no empty third page.
    expect(clients.map((page) => page.data.length)).toEqual([2, 2]);
    expect([...idsOf(clients)].sort()).toEqual(created.filter((c) => c.type === "oauth_client").map((c) => c.id).sort());

    for (const type of ["api_key", "oauth_client"] as const) {
      const pages = await walkPages(`/admin/v1/credentials?type=${type}&limit=5`);
      expectWellFormed(pages, 5);
      for (const row of pages.flatMap((page) => page.data)) expect(row.type).toBe(type);
      expect([...idsOf(pages)].sort()).toEqual(await storedIds("SELECT id FROM credentials WHERE type = ?", type));
    }
  });

  it("walks every credential without a filter", async () => {
    await accountWithCredentials();
    const pages = await walkPages("/admin/v1/credentials?limit=4");
    expectWellFormed(pages, 4);
    expect([...idsOf(pages)].sort()).toEqual(await storedIds("SELECT id FROM credentials"));
    expectNewestFirst(pages.flatMap((page) => page.data), "created_at");
  });

  it("ends with next_cursor null when the rows fill the last page exactly, or fit in one", async () => {
    const { account } = await accountWithCredentials();
    const seven = await json(await call(`/admin/v1/credentials?account_id=${account.id}&limit=7`));
    expect(seven.data).toHaveLength(7);
    expect(seven.next_cursor).toBeNull();
    const hundred = await json(await call(`/admin/v1/credentials?account_id=${account.id}&limit=100`));
    expect(hundred.data).toEqual(seven.data);
    expect(hundred.next_cursor).toBeNull();
    const six = await json(await call(`/admin/v1/credentials?account_id=${account.id}&limit=6`));
    expect(six.data).toEqual(seven.data.slice(0, 6));
    expect(typeof six.next_cursor).toBe("string");
  });

  it("walks one row per page with limit=1", async () => {
    const { account, created } = await accountWithCredentials();
    const pages = await walkPages(`/admin/v1/credentials?account_id=${account.id}&limit=1`);
    expectWellFormed(pages, 1);
    expect(pages).toHaveLength(7);
    expect([...idsOf(pages)].sort()).toEqual(created.map((c) => c.id).sort());
  });

  it("is stable under inserts and deletes between pages", async () => {
    const { account, created } = await accountWithCredentials();
    const full = idsOf(await walkPages(`/admin/v1/credentials?account_id=${account.id}&limit=100`));
    expect(full).toHaveLength(7);
    const inserted: string[] = [];
    const pages = await walkPages(`/admin/v1/credentials?account_id=${account.id}&limit=3`, async (index) => {
      inserted.push((await createCredential(account.id, "api_key")).id);
      if (index === 0) {
        // Delete the row the cursor names, and the row that would open the next page.
        for (const id of [full[2], full[3]]) {
          expect((await call(`/admin/v1/credentials/${id}`, { method: "DELETE" })).status).toBe(204);
        }
      }
    });
    expect(idsOf(pages)).toEqual(full.filter((id) => id !== full[3]));
    for (const id of inserted) expect(idsOf(pages)).not.toContain(id);
    expect(created).toHaveLength(7);
  });

  it("answers an unknown account_id with an empty list", async () => {
    const response = await call("/admin/v1/credentials?account_id=acct_0000000000000000000000");
    expect(response.status).toBe(200);
    expect(await json(response)).toEqual({ data: [], next_cursor: null });
  });
});

describe("audit events list", () => {
  it("walks one target's 7 events with limit=3, stable while new events arrive", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    for (let i = 0; i < 6; i++) {
      const response = await call(`/admin/v1/credentials/${credential.id}`, { method: "PATCH", body: { name: uniqueName() } });
      expect(response.status).toBe(200);
    }
    const stored = await storedIds("SELECT id FROM audit_events WHERE target_id = ?", credential.id);
    expect(stored).toHaveLength(7);

    const pages = await walkPages(`/admin/v1/audit-events?target_id=${credential.id}&limit=3`, async () => {
      await call(`/admin/v1/credentials/${credential.id}`, { method: "PATCH", body: { scopes: [uniqueName().replace(/\W/g, "")] } });
    });
    expectWellFormed(pages, 3);
    expect(pages.map((page) => page.data.length)).toEqual([3, 3, 1]);
    expect([...idsOf(pages)].sort()).toEqual(stored);
    const listed = pages.flatMap((page) => page.data);
    for (const event of listed) expect(event.target_id).toBe(credential.id);
    expectNewestFirst(listed, "at");
    expect(listed.filter((event) => event.action === "credential.create")).toHaveLength(1);
  });

  it("walks all events without a filter", async () => {
    const pages = await walkPages("/admin/v1/audit-events?limit=7");
    expectWellFormed(pages, 7);
    expect([...idsOf(pages)].sort()).toEqual(await storedIds("SELECT id FROM audit_events"));
    expectNewestFirst(pages.flatMap((page) => page.data), "at");
  });
});

describe("bad paging and filter parameters: 400 invalid_request", () => {
  const lists = ["/admin/v1/accounts", "/admin/v1/credentials", "/admin/v1/audit-events"];
  const badQueries: [string, string][] = [
    ["limit=0", "limit 0"],
    ["limit=101", "limit 101"],
    ["limit=1000", "limit 1000"],
    ["limit=abc", "limit abc"],
    ["limit=-1", "a negative limit"],
    ["limit=1.5", "a fractional limit"],
    ["limit=1e1", "a limit in exponent notation"],
    ["limit=", "an empty limit"],
    ["limit=%205", "a limit with a space"],
    ["limit=3&limit=3", "a repeated limit"],
    ["cursor=abc", "a cursor this service did not issue"],
    ["cursor=not%20a%20cursor!", "a cursor with characters outside base64url"],
    ["cursor=aGVsbG8", "a base64url cursor of something else"],
    [`cursor=${"A".repeat(400)}`, "an overlong cursor"],
    ["cursor=", "an empty cursor"],
    ["unexpected=1", "an unknown parameter"],
    ["Limit=5", "a parameter in another case"],
    ["page=2", "a page number"],
  ];
  for (const path of lists) {
    for (const [query, label] of badQueries) {
      it(`${path}: rejects ${label}`, async () => {
        await expectRejected(() => call(`${path}?${query}`), 400, "invalid_request");
      });
    }

    it(`${path}: rejects a repeated cursor, even a valid one`, async () => {
      await createAccount();
      await createAccount();
      const first = await json(await call(`${path}?limit=1`));
      expect(typeof first.next_cursor).toBe("string");
      const cursor = encodeURIComponent(first.next_cursor);
      expect((await call(`${path}?limit=1&cursor=${cursor}`)).status).toBe(200);
      await expectError(await call(`${path}?cursor=${cursor}&cursor=${cursor}`), 400, "invalid_request");
    });
  }

  const badFilters: [string, string][] = [
    ["/admin/v1/credentials?type=password", "an unknown credential type"],
    ["/admin/v1/credentials?type=api_key&type=oauth_client", "a repeated type"],
    ["/admin/v1/credentials?account_id=a&account_id=b", "a repeated account_id"],
    ["/admin/v1/credentials?target_id=x", "a filter of another list"],
    ["/admin/v1/accounts?type=service", "a filter accounts do not have"],
    ["/admin/v1/audit-events?target_id=x&target_id=y", "a repeated target_id"],
    ["/admin/v1/audit-events?account_id=x", "a filter audit events do not have"],
  ];
  for (const [path, label] of badFilters) {
    it(`rejects ${label}: ${path}`, async () => {
      await expectRejected(() => call(path), 400, "invalid_request");
    });
  }
});
