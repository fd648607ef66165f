import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { AUDIT_EXPORT_PAGE, AUDIT_EXPORT_PAGES_PER_RUN, USAGE_PRUNE_CHUNK, USAGE_PRUNE_CHUNKS_PER_RUN } from "../../src/services/retention";
import { call, createAccount, createCredential, walkPages } from "../support/http";

/**
 * Retention, run by the cron: usage rows of hours that ended more than USAGE_RETENTION_DAYS ago
 * are deleted; audit events of UTC days that ended more than AUDIT_RETENTION_DAYS ago are
 * exported to R2 (AUDIT_EXPORT) as NDJSON and only then deleted. Real local D1 and R2 throughout;
 * a binding is only wrapped to make it fail, or to look at D1 at the moment of a put.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The cron's moment: 34 min 56 s into an hour (the cron works in whole seconds). */
const NOW = Math.floor(Date.now() / HOUR) * HOUR - HOUR + 34 * 60_000 + 56_000;
const iso = (ms: number) => new Date(ms).toISOString();
const hourOf = (ms: number) => ms - (ms % HOUR);

type Vars = { [K in keyof Env]?: Env[K] | undefined };

/**
 * The Worker's scheduled handler, as the cron trigger calls it, with a copy of the env in which
 * some bindings or vars are changed (or, given as undefined, left out).
 */
async function runCron(changes: Vars = {}, atMs = NOW) {
  const copy: Record<string, unknown> = { ...env, ...changes };
  for (const [name, value] of Object.entries(changes)) if (value === undefined) delete copy[name];
  const controller = createScheduledController({ scheduledTime: new Date(atMs), cron: "*/15 * * * *" });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, copy as unknown as Env, ctx);
  await waitOnExecutionContext(ctx);
}

/** Every line the Worker logs while `work` runs. */
async function logsOf(work: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  for (const method of ["log", "error"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  }
  await work();
  return lines;
}

function scheduledLine(lines: string[]): Record<string, unknown> {
  const line = lines.find((l) => l.includes('"event":"scheduled"'));
  expect(line).toBeDefined();
  return JSON.parse(line!);
}

/** The bucket, except that `put` fails (R2 down, or a permissions mistake). */
function failingPut(bucket: R2Bucket): R2Bucket {
  return new Proxy(bucket, {
    get(target, property) {
      if (property === "put") return async () => { throw new Error("R2 refused the put"); };
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The bucket, calling `beforePut` (to look at D1 at that moment) before each real put. */
function watchedPut(bucket: R2Bucket, beforePut: () => Promise<void>): R2Bucket {
  return new Proxy(bucket, {
    get(target, property) {
      if (property === "put") {
        return async (...args: Parameters<R2Bucket["put"]>) => {
          await beforePut();
          return target.put(...args);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** D1, except that deleting audit events fails: a run that stops between the put and the delete. */
function failingAuditDelete(db: D1Database): D1Database {
  return new Proxy(db, {
    get(target, property) {
      if (property === "prepare") {
        return (sql: string) => {
          if (/DELETE FROM audit_events/i.test(sql)) throw new Error("D1 went away");
          return target.prepare(sql);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

async function exportedObjects(): Promise<{ key: string; body: string; metadata: Record<string, string> }[]> {
  const listed = await env.AUDIT_EXPORT.list({ prefix: "audit/", include: ["customMetadata"] });
  return Promise.all(
    listed.objects.map(async (object) => ({
      key: object.key,
      body: await (await env.AUDIT_EXPORT.get(object.key))!.text(),
      metadata: object.customMetadata ?? {},
    })),
  );
}

async function auditIds(): Promise<string[]> {
  const rows = await env.DB.prepare("SELECT id FROM audit_events ORDER BY at, id").all<{ id: string }>();
  return rows.results.map((row) => row.id);
}

/** Every audit event as the API answers it, oldest first. */
async function apiEvents(): Promise<Record<string, unknown>[]> {
  const pages = await walkPages("/admin/v1/audit-events?limit=100");
  return pages.flatMap((page) => page.data).reverse();
}

/** Real events (an account, a credential, a rename), moved back to `ats` in the order they happened. */
async function eventsAt(ats: number[]): Promise<string[]> {
  const account = await createAccount();
  const credential = await createCredential(account.id, "api_key");
  let renames = 0;
  while (2 + renames < ats.length) {
    renames += 1;
    const response = await call(`/admin/v1/credentials/${credential.id}`, { method: "PATCH", body: { name: `renamed ${renames}` } });
    expect(response.status).toBe(200);
  }
  const ids = await auditIds();
  expect(ids).toHaveLength(ats.length);
  await env.DB.batch(ids.map((id, i) => env.DB.prepare("UPDATE audit_events SET at = ? WHERE id = ?").bind(iso(ats[i]!), id)));
  return ids;
}

/** `count` events straight into D1, one a second, the newest a second before `newestMs`. */
async function manyEventsBefore(newestMs: number, count: number) {
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
     INSERT INTO audit_events (id, at, actor, channel, action, target_type, target_id, target_name, ip)
     SELECT 'evt_' || lower(hex(randomblob(16))), strftime('%Y-%m-%dT%H:%M:%fZ', ?2 / 1000.0 - i, 'unixepoch'),
            'admin_token', 'api', 'account.create', 'account', 'acct_' || i, 'account ' || i, '203.0.113.7' FROM n`,
  )
    .bind(count, newestMs)
    .run();
}

beforeEach(async () => {
  await env.DB.batch([
    env.DB.prepare("DELETE FROM audit_events"),
    env.DB.prepare("DELETE FROM usage_hourly"),
    env.DB.prepare("DELETE FROM usage_failures"),
  ]);
  const listed = await env.AUDIT_EXPORT.list();
  if (listed.objects.length) await env.AUDIT_EXPORT.delete(listed.objects.map((object) => object.key));
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("usage retention (USAGE_RETENTION_DAYS)", () => {
  async function seedUsage(credentialId: string, hours: number[]) {
    await env.DB.batch(
      hours.flatMap((hour) => [
        env.DB.prepare("INSERT OR REPLACE INTO usage_hourly (credential_id, hour, tokens_issued, verifications, failures) VALUES (?, ?, 5, 3, 2)").bind(credentialId, iso(hour)),
        env.DB.prepare("INSERT OR REPLACE INTO usage_failures (credential_id, hour, reason, count) VALUES (?, ?, 'wrong_secret', 1)").bind(credentialId, iso(hour)),
        env.DB.prepare("INSERT OR REPLACE INTO usage_failures (credential_id, hour, reason, count) VALUES (?, ?, 'expired', 1)").bind(credentialId, iso(hour)),
      ]),
    );
  }

  async function hoursLeft(credentialId: string) {
    const hourly = await env.DB.prepare("SELECT hour FROM usage_hourly WHERE credential_id = ? ORDER BY hour").bind(credentialId).all<{ hour: string }>();
    const failures = await env.DB.prepare("SELECT DISTINCT hour FROM usage_failures WHERE credential_id = ? ORDER BY hour").bind(credentialId).all<{ hour: string }>();
    return { hourly: hourly.results.map((row) => row.hour), failures: failures.results.map((row) => row.hour) };
  }

  it("deletes the hours that ended before now minus 90 days (the default), in both tables; the hour holding that moment stays", async () => {
    const boundary = hourOf(NOW - 90 * DAY);
    const kept = [boundary, boundary + HOUR, hourOf(NOW - 30 * DAY), hourOf(NOW)];
    const gone = [boundary - 10 * DAY, boundary - HOUR];
    // Seeded again for each value, so every value has old rows to delete.
    for (const days of ["90", "", "not a number"]) {
      await seedUsage("cred_retention_default", [...gone, ...kept]);
      await seedUsage("cred_retention_other", [boundary - HOUR, boundary]);
      await runCron({ USAGE_RETENTION_DAYS: days });
      const expected = kept.map(iso).sort();
      expect(await hoursLeft("cred_retention_default"), `USAGE_RETENTION_DAYS=${JSON.stringify(days)}`).toEqual({ hourly: expected, failures: expected });
      expect(await hoursLeft("cred_retention_other")).toEqual({ hourly: [iso(boundary)], failures: [iso(boundary)] });
    }
    // The counts of what stays are untouched.
    const row = await env.DB.prepare("SELECT * FROM usage_hourly WHERE credential_id = ? AND hour = ?").bind("cred_retention_default", iso(boundary)).first();
    expect(row).toMatchObject({ tokens_issued: 5, verifications: 3, failures: 2 });
  });

  it("takes a retention too long for any date as 100 years, and a failing usage step leaves the audit step to run", async () => {
    await seedUsage("cred_retention_huge", [hourOf(NOW - 400 * DAY)]);
    const lines = await logsOf(() => runCron({ USAGE_RETENTION_DAYS: "999999999" }));
    expect(scheduledLine(lines)).toMatchObject({ usage_pruned: 0 });
    expect(await hoursLeft("cred_retention_huge")).toEqual({ hourly: [iso(hourOf(NOW - 400 * DAY))], failures: [iso(hourOf(NOW - 400 * DAY))] });
    // D1 refusing the usage deletes (and only those): logged, and the run goes on to the audit step and its log line.
    const usageDeletes = new WeakSet<D1PreparedStatement>();
    const failingUsageDeletes = new Proxy(env.DB, {
      get(target, property) {
        if (property === "prepare") {
          return (sql: string) => {
            const statement = target.prepare(sql);
            if (sql.includes("DELETE FROM usage_")) usageDeletes.add(statement);
            const bind = statement.bind.bind(statement);
            statement.bind = (...values: unknown[]) => {
              const bound = bind(...values);
              if (usageDeletes.has(statement)) usageDeletes.add(bound);
              return bound;
            };
            return statement;
          };
        }
        if (property === "batch") {
          return async (statements: D1PreparedStatement[]) => {
            if (statements.some((statement) => usageDeletes.has(statement))) throw new Error("D1 refused the usage deletes");
            return target.batch(statements);
          };
        }
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const failed = await logsOf(() => runCron({ DB: failingUsageDeletes }));
    expect(failed.some((line) => line.includes('"event":"usage_retention_failed"'))).toBe(true);
    expect(scheduledLine(failed)).toMatchObject({ usage_pruned: 0, audit_pruned: 0 });
  });

  it("follows USAGE_RETENTION_DAYS when set", async () => {
    const boundary = hourOf(NOW - 7 * DAY);
    await seedUsage("cred_retention_week", [boundary - HOUR, boundary, hourOf(NOW - 30 * DAY)]);
    await runCron({ USAGE_RETENTION_DAYS: "7" });
    expect(await hoursLeft("cred_retention_week")).toEqual({ hourly: [iso(boundary)], failures: [iso(boundary)] });
  });

  it(`deletes at most ${USAGE_PRUNE_CHUNK * USAGE_PRUNE_CHUNKS_PER_RUN} rows of a table a run, oldest first; the next run goes on`, async () => {
    const bound = USAGE_PRUNE_CHUNK * USAGE_PRUNE_CHUNKS_PER_RUN;
    const backlog = bound + 1_500;
    const oldest = hourOf(NOW - 400 * DAY);
    // One row per credential and hour: `backlog` old hours of one credential, an hour apart.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
       INSERT INTO usage_hourly (credential_id, hour, tokens_issued) SELECT 'cred_backlog_' || (i % 50), strftime('%Y-%m-%dT%H:00:00.000Z', ?2 / 1000 + (i / 50) * 3600, 'unixepoch'), 1 FROM n`,
    )
      .bind(backlog, oldest)
      .run();
    const count = async () => (await env.DB.prepare("SELECT count(*) AS n, min(hour) AS oldest FROM usage_hourly").first<{ n: number; oldest: string }>())!;
    expect((await count()).n).toBe(backlog);

    const lines = await logsOf(() => runCron());
    expect(scheduledLine(lines)).toMatchObject({ usage_pruned: bound });
    const left = await count();
    expect(left.n).toBe(backlog - bound);
    // Oldest first: what is left is the newest part of the backlog.
    expect(Date.parse(left.oldest)).toBeGreaterThan(oldest + (bound / 50 - 1) * HOUR);

    await runCron();
    expect((await count()).n).toBe(0);
  });
});

describe("audit retention (AUDIT_RETENTION_DAYS, AUDIT_EXPORT)", () => {
  const RETENTION = { AUDIT_RETENTION_DAYS: "30" };
  /** The start of the UTC day holding now minus 30 days: events before it go, the rest stay. */
  const boundary = () => {
    const cutoff = Math.floor(NOW / 1000) * 1000 - 30 * DAY;
    return cutoff - (cutoff % DAY);
  };

  it("exports the events of the days that ended before now minus the retention as NDJSON in the API's shape, before it deletes them, and deletes exactly those", async () => {
    const b = boundary();
    // Two in the day before the boundary (the last a millisecond before it), one exactly at it, one after.
    const ids = await eventsAt([b - 2 * HOUR, b - 1, b, b + HOUR]);
    const before = await apiEvents();
    expect(before.map((event) => event.id)).toEqual(ids);
    const [older, oldest] = [before.slice(0, 2), before[0]!];

    const seenAtPut: string[][] = [];
    const bucket = watchedPut(env.AUDIT_EXPORT, async () => void seenAtPut.push(await auditIds()));
    const lines = await logsOf(() => runCron({ ...RETENTION, AUDIT_EXPORT: bucket }));

    // When the object was written, every event was still in D1.
    expect(seenAtPut).toEqual([ids]);
    const objects = await exportedObjects();
    expect(objects.map((object) => object.key)).toEqual([`audit/${oldest.at}_${oldest.id}.ndjson`]);
    const { body, metadata } = objects[0]!;
    expect(body.endsWith("\n")).toBe(true);
    const parsed = body.slice(0, -1).split("\n").map((line) => JSON.parse(line));
    expect(parsed).toEqual(older);
    for (const event of parsed) expect(Object.keys(event)).toEqual(Object.keys(before[0]!));
    expect(metadata).toEqual({ first_at: older[0]!.at, last_at: older[1]!.at, count: "2" });

    expect(await auditIds()).toEqual(ids.slice(2));
    expect(await apiEvents()).toEqual(before.slice(2));
    expect(scheduledLine(lines)).toMatchObject({ audit_exported: 2, audit_pruned: 2 });
  });

  it("a run that stopped between the put and the delete is repeated harmlessly: the same object is written again", async () => {
    const b = boundary();
    const ids = await eventsAt([b - 3 * HOUR, b - 2 * HOUR, b + HOUR]);
    const broken = { ...RETENTION, DB: failingAuditDelete(env.DB) };
    // The failure is logged and the rest of the run goes on (the cron's steps are independent).
    const lines = await logsOf(() => runCron(broken));
    expect(lines.some((line) => line.includes('"event":"audit_retention_failed"') && line.includes("D1 went away"))).toBe(true);
    vi.restoreAllMocks();
    const first = await exportedObjects();
    expect(first).toHaveLength(1);
    expect(await auditIds()).toEqual(ids);

    await runCron(RETENTION);
    const second = await exportedObjects();
    expect(second).toEqual(first);
    expect(second[0]!.body.trim().split("\n").map((line) => JSON.parse(line).id)).toEqual(ids.slice(0, 2));
    expect(await auditIds()).toEqual(ids.slice(2));
  });

  it("an object holds one UTC day: its content is fixed by its first event", async () => {
    const b = boundary();
    const ids = await eventsAt([b - 2 * DAY + HOUR, b - DAY - 1, b - DAY, b - 1, b]);
    const before = await apiEvents();
    await runCron(RETENTION);
    const objects = await exportedObjects();
    expect(objects.map((object) => object.key)).toEqual([before[0], before[2]].map((first) => `audit/${first!.at}_${first!.id}.ndjson`));
    expect(objects.map((object) => object.body.trim().split("\n").map((line) => JSON.parse(line)))).toEqual([before.slice(0, 2), before.slice(2, 4)]);
    expect(await auditIds()).toEqual(ids.slice(4));
  });

  it("with no AUDIT_EXPORT bound, deletes nothing and logs one line saying why", async () => {
    const b = boundary();
    const ids = await eventsAt([b - DAY, b + HOUR]);
    const lines = await logsOf(() => runCron({ ...RETENTION, AUDIT_EXPORT: undefined }));
    expect(await auditIds()).toEqual(ids);
    expect(await exportedObjects()).toEqual([]);
    const why = lines.filter((line) => line.includes("audit_retention_skipped"));
    expect(why).toHaveLength(1);
    expect(JSON.parse(why[0]!).reason).toMatch(/no AUDIT_EXPORT bucket.*AUDIT_PRUNE_WITHOUT_EXPORT/);
    expect(scheduledLine(lines)).toMatchObject({ audit_pruned: 0, audit_stopped: "no_export_bucket" });
  });

  it("with no AUDIT_EXPORT bound and AUDIT_PRUNE_WITHOUT_EXPORT=true, deletes the older events", async () => {
    const b = boundary();
    const ids = await eventsAt([b - DAY, b - 1, b, b + HOUR]);
    const lines = await logsOf(() => runCron({ ...RETENTION, AUDIT_EXPORT: undefined, AUDIT_PRUNE_WITHOUT_EXPORT: "true" }));
    expect(await auditIds()).toEqual(ids.slice(2));
    expect(scheduledLine(lines)).toMatchObject({ audit_exported: 0, audit_pruned: 2 });
    expect(lines.some((line) => line.includes("audit_retention_skipped"))).toBe(false);
  });

  it("when the put fails, nothing is deleted", async () => {
    const b = boundary();
    const ids = await eventsAt([b - DAY, b - HOUR, b + HOUR]);
    for (const prune of ["false", "true"]) {
      const lines = await logsOf(() => runCron({ ...RETENTION, AUDIT_EXPORT: failingPut(env.AUDIT_EXPORT), AUDIT_PRUNE_WITHOUT_EXPORT: prune }));
      expect(await auditIds()).toEqual(ids);
      expect(await exportedObjects()).toEqual([]);
      expect(lines.some((line) => line.includes("audit_export_failed"))).toBe(true);
      expect(scheduledLine(lines)).toMatchObject({ audit_pruned: 0, audit_stopped: "export_failed" });
    }
  });

  it("with AUDIT_RETENTION_DAYS empty (the default), nothing is exported or deleted", async () => {
    const ids = await eventsAt([boundary() - 400 * DAY, boundary() - DAY]);
    expect(env.AUDIT_RETENTION_DAYS).toBe("");
    for (const days of ["", "0", "-3", "forever"]) {
      await runCron({ AUDIT_RETENTION_DAYS: days, AUDIT_PRUNE_WITHOUT_EXPORT: "true" });
      expect(await auditIds()).toEqual(ids);
      expect(await exportedObjects()).toEqual([]);
    }
  });

  it(`exports and deletes at most ${AUDIT_EXPORT_PAGE * AUDIT_EXPORT_PAGES_PER_RUN} events a run, ${AUDIT_EXPORT_PAGE} an object; the next run goes on`, async () => {
    const bound = AUDIT_EXPORT_PAGE * AUDIT_EXPORT_PAGES_PER_RUN;
    const backlog = bound + 500;
    await manyEventsBefore(boundary(), backlog); // all in one day: 10,500 s
    const all = await auditIds();
    expect(all).toHaveLength(backlog);

    await runCron(RETENTION);
    let objects = await exportedObjects();
    expect(objects).toHaveLength(AUDIT_EXPORT_PAGES_PER_RUN);
    expect(await auditIds()).toEqual(all.slice(bound));

    await runCron(RETENTION);
    objects = await exportedObjects();
    expect(objects).toHaveLength(AUDIT_EXPORT_PAGES_PER_RUN + 1);
    expect(await auditIds()).toEqual([]);
    // Every event exported exactly once, in order, across the objects (keys sort as time).
    const exported = objects
      .sort((a, b) => (a.key < b.key ? -1 : 1))
      .flatMap((object) => object.body.trim().split("\n").map((line) => JSON.parse(line).id as string));
    expect(exported).toEqual(all);
  });
});
