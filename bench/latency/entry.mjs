// Bench-only Worker entry: the Keymint bundle (`wrangler deploy --dry-run --outdir`), with its
// storage bindings delayed per a latency model and every call counted. Never deployed; not part
// of src/. bench/run.mjs copies this file next to the bundle's index.js and runs it in Miniflare.
//
// What it wraps (names come from wrangler.toml through the BENCH_LATENCY binding, plus duck
// typing for queue producers):
//   D1     prepare().bind().first/all/run/raw, db.batch, db.exec, db.withSession() sessions
//   KV     get (one key or a bulk array = one call), getWithMetadata, list (reads); put, delete (writes)
//   Queue  send, sendBatch (one call each)
//   Durable Objects  each RPC call on a stub from namespace.get() (one call each)
//   Rate-limit bindings are counted, never delayed (they are local to a Cloudflare location);
//   while the bench is seeding they always answer success (the admin API's write limit would
//   otherwise hold thousands of creates to 100 per 10 s).
// Each call starts the real (local) operation at once and answers when both it and the modelled
// delay are done: latency = max(model, local simulator time). Reads/writes are classified as:
//   D1 statement: a write unless its SQL starts with SELECT, or with WITH and has no
//     INSERT/UPDATE/DELETE/REPLACE. Reads through a session from withSession() /
//     withSession("first-unconstrained") / withSession(<bookmark>) go to the nearest replica
//     (replica latency); withSession("first-primary"): the first query goes to the primary, later
//     reads to a replica. Everything else (reads on the plain binding, writes, batches) goes to the
//     primary. A batch is one call: a write if any statement in it is one.
//
// Attribution: every fetch/queue/scheduled invocation runs inside an AsyncLocalStorage context
// holding its own counter record, so calls made later in ctx.waitUntil work (or in any promise
// chain started by the request) are charged to the request that started them. waitUntil
// promises are tracked so that /__bench/counts can wait for deferred work to finish.
//
// Bench routes, answered here and never passed to the Worker:
//   GET  /__bench/counts?settle=<ms>  wait up to <ms> for deferred work, then the summary (JSON)
//   POST /__bench/reset               forget all counts
//   POST /__bench/model               JSON body merged into the state: { on: bool, seeding: bool, hook: bool, ms: {...} }
//                                     (hook: Keymint sees its CLAIMS_HOOK binding; off by default)
import { AsyncLocalStorage } from "node:async_hooks";
import * as worker from "./index.js";

export * from "./index.js";

const config = { model: { kv_read_ms: 10, kv_write_ms: 10, d1_replica_ms: 30, d1_primary_ms: 80, queue_send_ms: 10, do_ms: 40 }, d1: [], kv: [], queues: [], ratelimits: [], durableObjects: [] };
const state = { on: true, seeding: false, hook: false, ms: null, pending: 0, records: [], configured: false };
const MAX_RECORDS = 100_000;
const als = new AsyncLocalStorage();

const COUNTERS = ["d1_replica_reads", "d1_primary_reads", "d1_writes", "kv_reads", "kv_keys_read", "kv_writes", "queue_sends", "queue_messages", "ratelimit_calls", "do_calls"];
const DELAY = {
  d1_replica_reads: "d1_replica_ms",
  d1_primary_reads: "d1_primary_ms",
  d1_writes: "d1_primary_ms",
  kv_reads: "kv_read_ms",
  kv_writes: "kv_write_ms",
  queue_sends: "queue_send_ms",
  do_calls: "do_ms",
};

function configure(env) {
  if (state.configured) return;
  state.configured = true;
  const given = typeof env.BENCH_LATENCY === "string" ? JSON.parse(env.BENCH_LATENCY) : (env.BENCH_LATENCY ?? {});
  Object.assign(config, given, { model: { ...config.model, ...given.model } });
  state.ms = { ...config.model };
  if (given.on === false) state.on = false;
}

const sleep = (ms) => (ms > 0 ? (globalThis.scheduler?.wait ? scheduler.wait(ms) : new Promise((resolve) => setTimeout(resolve, ms))) : Promise.resolve());

/** Counts one call of `kind` against the current invocation (or "unattributed") and delays its answer. */
function charge(kind, work, extra = {}) {
  const record = als.getStore() ?? unattributed();
  record[kind] += 1;
  for (const [counter, n] of Object.entries(extra)) record[counter] += n;
  const ms = state.on && !state.seeding ? state.ms[DELAY[kind]] ?? 0 : 0;
  const result = work();
  if (!ms) return result;
  return Promise.all([result, sleep(ms)]).then(([value]) => value);
}

let orphan = null;
function unattributed() {
  if (!orphan) orphan = newRecord("unattributed", "");
  return orphan;
}

function newRecord(kind, route) {
  const record = { kind, route, started: Date.now() };
  for (const counter of COUNTERS) record[counter] = 0;
  if (state.records.length < MAX_RECORDS) state.records.push(record);
  return record;
}

const bindAll = (target, value) => (typeof value === "function" ? value.bind(target) : value);

// ---- D1 ------------------------------------------------------------------------------------

const realOf = new WeakMap(); // wrapped statement -> real statement
const sqlOf = new WeakMap(); // wrapped statement -> its SQL, for classifying batches

function isRead(sql) {
  const text = String(sql).replace(/^(\s|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, "").toLowerCase();
  if (text.startsWith("select")) return true;
  return text.startsWith("with") && !/\b(insert|update|delete|replace)\b/.test(text);
}

/**
 * where: { kind: "primary" } for the plain binding, { kind: "session", firstPrimary, used } for a session.
 * Returns the counter a read through `where` goes to, and marks the session used.
 */
function readCounter(where) {
  if (where.kind === "primary") return "d1_primary_reads";
  const first = !where.used;
  where.used = true;
  return first && where.firstPrimary ? "d1_primary_reads" : "d1_replica_reads";
}

function writeThrough(where) {
  if (where.kind === "session") where.used = true;
  return "d1_writes";
}

function wrapStatement(statement, sql, where) {
  const wrapped = new Proxy(statement, {
    get(target, prop) {
      const value = target[prop];
      if (prop === "bind") return (...args) => wrapStatement(target.bind(...args), sql, where);
      if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
        return (...args) => charge(isRead(sql) ? readCounter(where) : writeThrough(where), () => target[prop](...args));
      }
      return bindAll(target, value);
    },
  });
  realOf.set(wrapped, statement);
  sqlOf.set(wrapped, sql);
  return wrapped;
}

function wrapD1(db, where) {
  return new Proxy(db, {
    get(target, prop) {
      const value = target[prop];
      if (prop === "prepare") return (sql) => wrapStatement(target.prepare(sql), sql, where);
      if (prop === "batch") {
        return (statements) => {
          const real = statements.map((s) => realOf.get(s) ?? s);
          // One call, at the primary; counted as a write when any statement writes.
          const anyWrite = statements.some((s) => !isRead(sqlOf.get(s) ?? ""));
          if (where.kind === "session") where.used = true;
          return charge(anyWrite ? "d1_writes" : "d1_primary_reads", () => target.batch(real));
        };
      }
      if (prop === "exec") return (sql) => charge(isRead(sql) ? "d1_primary_reads" : "d1_writes", () => target.exec(sql));
      if (prop === "withSession" && typeof value === "function") {
        return (constraint) => {
          const session = target.withSession(constraint);
          return wrapD1(session, { kind: "session", firstPrimary: constraint === "first-primary", used: false });
        };
      }
      return bindAll(target, value);
    },
  });
}

// ---- KV --------------------------------------------------------------------------------------

function wrapKv(kv) {
  return new Proxy(kv, {
    get(target, prop) {
      const value = target[prop];
      if (prop === "get" || prop === "getWithMetadata") {
        return (key, ...rest) => charge("kv_reads", () => target[prop](key, ...rest), { kv_keys_read: Array.isArray(key) ? key.length : 1 });
      }
      if (prop === "list") return (...args) => charge("kv_reads", () => target.list(...args));
      if (prop === "put" || prop === "delete") return (...args) => charge("kv_writes", () => target[prop](...args));
      return bindAll(target, value);
    },
  });
}

// ---- Queues and rate limits ------------------------------------------------------------------

function wrapQueue(queue) {
  return new Proxy(queue, {
    get(target, prop) {
      const value = target[prop];
      if (prop === "send") return (...args) => charge("queue_sends", () => target.send(...args), { queue_messages: 1 });
      if (prop === "sendBatch") {
        return (messages, ...rest) => charge("queue_sends", () => target.sendBatch(messages, ...rest), { queue_messages: messages?.length ?? 0 });
      }
      return bindAll(target, value);
    },
  });
}

function wrapRateLimit(limiter) {
  return new Proxy(limiter, {
    get(target, prop) {
      const value = target[prop];
      if (prop === "limit") {
        return (...args) => charge("ratelimit_calls", () => (state.seeding ? Promise.resolve({ success: true }) : target.limit(...args)));
      }
      return bindAll(target, value);
    },
  });
}

// ---- Durable Objects -------------------------------------------------------------------------

/** A namespace whose stubs' RPC calls are each one charged call (the round trip to the object). */
function wrapDurableObjects(ns) {
  return new Proxy(ns, {
    get(target, prop) {
      const value = target[prop];
      if (prop !== "get") return bindAll(target, value);
      return (...args) => {
        const stub = target.get(...args);
        return new Proxy(stub, {
          get(inner, method) {
            const member = inner[method];
            if (typeof method !== "string" || ["then", "id", "name", "fetch", "connect"].includes(method)) return bindAll(inner, member);
            return (...params) => charge("do_calls", () => inner[method](...params));
          },
        });
      };
    },
  });
}

// ---- env and ctx -----------------------------------------------------------------------------

const wrappedEnvs = new WeakMap();

function looksLikeQueue(value) {
  return value !== null && typeof value === "object" && typeof value.send === "function" && typeof value.sendBatch === "function" &&
    typeof value.fetch !== "function"; // service bindings / RPC stubs answer every property name
}

function wrapEnv(env) {
  configure(env);
  let wrapped = wrappedEnvs.get(env);
  if (wrapped) return wrapped;
  wrapped = { ...env };
  delete wrapped.BENCH_LATENCY;
  // The issuance hook is bound, but Keymint sees it only while a phase turns it on (hook: true).
  const hook = env.CLAIMS_HOOK;
  delete wrapped.CLAIMS_HOOK;
  if (hook) Object.defineProperty(wrapped, "CLAIMS_HOOK", { get: () => (state.hook ? hook : undefined), enumerable: true });
  for (const name of config.d1) if (env[name]) wrapped[name] = wrapD1(env[name], { kind: "primary" });
  for (const name of config.kv) if (env[name]) wrapped[name] = wrapKv(env[name]);
  for (const name of config.ratelimits) if (env[name]) wrapped[name] = wrapRateLimit(env[name]);
  for (const name of config.durableObjects ?? []) if (env[name]) wrapped[name] = wrapDurableObjects(env[name]);
  const queues = new Set(config.queues);
  for (const [name, value] of Object.entries(env)) if (!config.d1.includes(name) && !config.kv.includes(name) && looksLikeQueue(value)) queues.add(name);
  for (const name of queues) if (env[name]) wrapped[name] = wrapQueue(env[name]);
  wrappedEnvs.set(env, wrapped);
  return wrapped;
}

function wrapCtx(ctx) {
  return new Proxy(ctx, {
    get(target, prop) {
      if (prop === "waitUntil") {
        return (promise) => {
          state.pending += 1;
          const done = () => {
            state.pending -= 1;
          };
          Promise.resolve(promise).then(done, done);
          target.waitUntil(promise);
        };
      }
      return bindAll(target, target[prop]);
    },
  });
}

// ---- the bench routes ------------------------------------------------------------------------

function summary() {
  const groups = {};
  for (const record of state.records) {
    const key = record.kind === "fetch" ? "fetch" : record.kind;
    const group = (groups[key] ??= { invocations: 0, totals: Object.fromEntries(COUNTERS.map((c) => [c, 0])), histograms: {}, routes: {} });
    group.invocations += 1;
    group.routes[record.route] = (group.routes[record.route] ?? 0) + 1;
    for (const counter of COUNTERS) {
      group.totals[counter] += record[counter];
      const histogram = (group.histograms[counter] ??= {});
      histogram[record[counter]] = (histogram[record[counter]] ?? 0) + 1;
    }
  }
  return { model: { on: state.on, seeding: state.seeding, ...state.ms }, pending: state.pending, records: state.records.length, groups };
}

async function benchRoute(request, url) {
  const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  if (url.pathname === "/__bench/counts" && request.method === "GET") {
    const deadline = Date.now() + Number(url.searchParams.get("settle") ?? 0);
    while (state.pending > 0 && Date.now() < deadline) await sleep(5);
    return json(summary());
  }
  if (url.pathname === "/__bench/reset" && request.method === "POST") {
    state.records = [];
    orphan = null;
    return json(summary());
  }
  if (url.pathname === "/__bench/model" && request.method === "POST") {
    const body = await request.json();
    if (typeof body.on === "boolean") state.on = body.on;
    if (typeof body.seeding === "boolean") state.seeding = body.seeding;
    if (typeof body.hook === "boolean") state.hook = body.hook;
    if (body.ms) Object.assign(state.ms, body.ms);
    return json(summary());
  }
  return json({ error: "unknown bench route" }, 404);
}

// ---- the handlers --------------------------------------------------------------------------

const inner = worker.default;
const handler = (name) => (typeof inner === "function" ? null : inner?.[name]?.bind(inner));

function run(kind, route, work) {
  return als.run(newRecord(kind, route), work);
}

const wrappedDefault = {};
if (handler("fetch")) {
  wrappedDefault.fetch = (request, env, ctx) => {
    configure(env);
    const url = new URL(request.url);
    if (url.pathname.startsWith("/__bench/")) return benchRoute(request, url);
    return run("fetch", `${request.method} ${url.pathname}`, () => handler("fetch")(request, wrapEnv(env), wrapCtx(ctx)));
  };
}
if (handler("scheduled")) wrappedDefault.scheduled = (controller, env, ctx) => run("scheduled", controller.cron ?? "", () => handler("scheduled")(controller, wrapEnv(env), wrapCtx(ctx)));
if (handler("queue")) wrappedDefault.queue = (batch, env, ctx) => run("queue", batch.queue ?? "", () => handler("queue")(batch, wrapEnv(env), wrapCtx(ctx)));
if (handler("tail")) wrappedDefault.tail = (events, env, ctx) => handler("tail")(events, wrapEnv(env), wrapCtx(ctx));

// A class-style default export (WorkerEntrypoint): same wrapping, through a subclass.
const exported = typeof inner === "function"
  ? class extends inner {
      constructor(ctx, env) {
        super(wrapCtx(ctx), wrapEnv(env));
      }
      fetch(request) {
        const url = new URL(request.url);
        if (url.pathname.startsWith("/__bench/")) return benchRoute(request, url);
        return run("fetch", `${request.method} ${url.pathname}`, () => super.fetch(request));
      }
    }
  : wrappedDefault;

export default exported;
