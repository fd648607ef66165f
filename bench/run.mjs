#!/usr/bin/env node
// `npm run bench [-- --quick]`: Keymint's hot paths under load, next to what they could cost at
// best (floor Workers), a Worker that does nothing (the ceiling) and a peer (oidc-provider).
//
//   1. Bundle the Worker as `wrangler deploy` would (--dry-run --outdir).
//   2. Run it in workerd through Miniflare's API, with local D1 + KV in a temp dir and the
//      migrations applied; run the floor Workers and the hello-world Worker the same way, and
//      oidc-provider on Node. Keymint, the floors and the peer are three process trees
//      (bench/server.mjs twice, bench/peer/server.mjs), so each one's CPU can be read apart.
//   3. Seed Keymint through its admin API, then load every route with autocannon from a
//      separate process (bench/load.mjs), on 127.0.0.1.
//   4. Charge each request the servers' own CPU (utime+stime from /proc, bench/lib/cpu.mjs).
//   5. Latency model (bench/latency/): a second Keymint host whose bindings wait per the model and
//      count their calls; cold / warm / many-credentials / new-isolate cases per route.
//   6. Cold start: `wrangler check startup`, its "Active" startup CPU, median of 5 runs.
//   7. Print Markdown tables and write bench/results/{<timestamp>,latest}.json and latest.md.
//
// Flags (after `npm run bench --`):
//   --quick                   short runs (10 connections, 2 s; smaller latency workloads)
//   --only=throughput,latency,startup   run only these sections (default: all three)
//   --load-in-process         run autocannon in this process instead of a separate one
//   --kv-read-ms=10 --kv-write-ms=10 --d1-replica-ms=30 --d1-primary-ms=80 --queue-send-ms=10 --do-ms=40
//                             the latency model (bench/README.md)
//   --cold=200 --many=6000 --many-rate=60 --latency-concurrency=1   latency workloads (--many=0 skips that one)
//   --startup-runs=5          runs of `wrangler check startup`
import { spawn } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { cpuDelta, treeCpu } from "./lib/cpu.mjs";
import { keymintWorker } from "./lib/keymint-worker.mjs";
import { runLatency } from "./latency/workload.mjs";

const QUICK = process.argv.includes("--quick");
/** `--name=value` from the command line, as a number, or the default. */
function numberFlag(name, fallback) {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  if (!arg) return fallback;
  const value = Number(arg.slice(name.length + 3));
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} wants a non-negative number, got ${arg}`);
  return value;
}
const ONLY = new Set((process.argv.find((a) => a.startsWith("--only="))?.slice(7) ?? "throughput,latency,startup").split(","));
for (const section of ONLY) if (!["throughput", "latency", "startup"].includes(section)) throw new Error(`--only: unknown section ${section}`);
/** Whether autocannon runs in this process (the issue's way of measuring the floor ratios) or in load.mjs's own. */
const LOAD_IN_PROCESS = process.argv.includes("--load-in-process");

/**
 * The latency model (bench/README.md): how long each storage call waits before it answers.
 * KV read: a hot read from the location's cache; D1 replica: a read from the nearest read
 * replica; D1 primary: a round trip to the primary, which may be on another continent.
 */
const MODEL = {
  kv_read_ms: numberFlag("kv-read-ms", 10),
  kv_write_ms: numberFlag("kv-write-ms", 10),
  d1_replica_ms: numberFlag("d1-replica-ms", 30),
  d1_primary_ms: numberFlag("d1-primary-ms", 80),
  queue_send_ms: numberFlag("queue-send-ms", 10),
  // A call to a Durable Object (the jti store): one object per client, in one location, so a
  // caller elsewhere on the continent pays a regional round trip (an assumption, see README).
  do_ms: numberFlag("do-ms", 40),
};
/**
 * The latency workloads. cold: fresh credentials per route, sent one at a time (concurrency), so
 * that p50 is the model plus the request's own CPU, not other requests' CPU queued in the one
 * isolate; many: clients in the round-robin (more than the 5,000 an isolate caches today; 0 skips
 * it), sent open loop at manyRate.
 */
const LATENCY = {
  cold: numberFlag("cold", QUICK ? 50 : 200),
  many: numberFlag("many", QUICK ? 5_001 : 6_000),
  // Cold token requests cost this 2-core machine several ms of CPU each (D1 simulated locally):
  // 60 req/s keeps the one isolate well below saturation, so queueing does not swamp the model.
  manyRate: numberFlag("many-rate", QUICK ? 100 : 60),
  concurrency: Math.max(1, numberFlag("latency-concurrency", 1)),
  seedConcurrency: 8,
  settleMs: 10_000,
};
const STARTUP_RUNS = numberFlag("startup-runs", 5);

/** Concurrent connections of each measured run: light load, then enough to saturate a core. */
const CONNECTIONS = QUICK ? [10] : [10, 50];
/** Unmeasured load before each run, so that JIT, isolate caches and keys are warm (seconds). */
const WARMUP_SECONDS = QUICK ? 0.5 : 1;
/** Length of each measured run (seconds). Access tokens live 60 s; warm-up + run stays far below. */
const MEASURE_SECONDS = QUICK ? 2 : 4;
/** Longest wait for a server to print its URL (workerd start-up, migrations). */
const STARTUP_TIMEOUT_MS = 60_000;
/** Scopes of the seeded credentials (and of the floors' and the peer's tokens). */
const SCOPE = "events:write";

const BENCH = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(BENCH);
const RESULTS = join(BENCH, "results");
const NODE = process.execPath;

const log = (message) => process.stderr.write(`${message}\n`);
const b64url = (bytes) => Buffer.from(bytes).toString("base64url");
const sha256Hex = (text) => createHash("sha256").update(text).digest("hex");
const basicAuth = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
const FORM = "application/x-www-form-urlencoded";

// ---- child processes ---------------------------------------------------------------------

const children = new Set();

/**
 * Starts a server script and waits for its first stdout line (`{ "url" }` or `{ "urls" }`),
 * returned with the process id and command(obj), which writes one JSON line to the server's
 * stdin and resolves to its next stdout line (bench/server.mjs's restart). Its stderr is passed through.
 */
function startServer(name, script, env) {
  const child = spawn(NODE, [script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["pipe", "pipe", "pipe"] });
  children.add(child);
  createInterface({ input: child.stderr }).on("line", (line) => {
    if (!/in-memory adapter is used/.test(line)) log(`[${name}] ${line}`); // oidc-provider's dev warning
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
    timer.unref(); // a failed start elsewhere must not keep the run alive
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code} before it served`)));
    const waiting = [];
    const command = (message) =>
      new Promise((resolveCommand, rejectCommand) => {
        waiting.push((answer) => (answer.failed ? rejectCommand(new Error(answer.failed)) : resolveCommand(answer)));
        child.stdin.write(`${JSON.stringify(message)}\n`);
      });
    let first = true;
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (!first) return waiting.shift()?.(JSON.parse(line));
      first = false;
      clearTimeout(timer);
      resolve({ pid: child.pid, command, ...JSON.parse(line) });
    });
  });
}

/** The load generator: one long-lived process; run(job) sends a job and awaits its result line. */
async function startLoadGenerator() {
  if (LOAD_IN_PROCESS) {
    const { run } = await import("./load.mjs");
    return { run: async (job) => run(job) };
  }
  const child = spawn(NODE, [join(BENCH, "load.mjs")], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  children.add(child);
  const waiting = [];
  createInterface({ input: child.stdout }).on("line", (line) => waiting.shift()?.(JSON.parse(line)));
  return {
    run(job) {
      return new Promise((resolve, reject) => {
        waiting.push((result) => (result.failed ? reject(new Error(result.failed)) : resolve(result)));
        child.stdin.write(`${JSON.stringify(job)}\n`);
      });
    },
  };
}

async function stopChildren() {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", resolve);
          child.kill("SIGTERM");
          setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
        }),
    ),
  );
}

// ---- the Worker bundle and its configuration ----------------------------------------------

/** `wrangler deploy --dry-run`: the exact script that would be uploaded. Resolves to its path. */
function bundleWorker(outdir) {
  const wrangler = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  const child = spawn(NODE, [wrangler, "deploy", "--dry-run", "--outdir", outdir], {
    cwd: ROOT,
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  return new Promise((resolve, reject) =>
    child.on("exit", (code) => (code === 0 ? resolve(join(outdir, "index.js")) : reject(new Error(`wrangler deploy --dry-run failed:\n${output}`)))),
  );
}

/**
 * What the benchmark needs from wrangler.toml, read by wrangler itself, plus the migrations split
 * into statements. Loading wrangler's module costs seconds of CPU, so the answer is cached under
 * node_modules/.cache, keyed by the contents of wrangler.toml, the migrations and wrangler's version.
 */
async function readWranglerConfig() {
  const configPath = join(ROOT, "wrangler.toml");
  const migrationsDir = join(ROOT, "migrations"); // wrangler.toml's migrations_dir, checked below
  const migrationFiles = readdirSync(migrationsDir).filter((file) => file.endsWith(".sql")).sort();
  const key = createHash("sha256").update(`v4 ${packageVersion("wrangler")}`).update(readFileSync(configPath)); // v4: this function's output shape
  for (const file of migrationFiles) key.update(file).update(readFileSync(join(migrationsDir, file)));
  const cacheFile = join(ROOT, "node_modules", ".cache", "keymint-bench", `wrangler-config-${key.digest("hex").slice(0, 16)}.json`);
  try {
    return JSON.parse(readFileSync(cacheFile, "utf8"));
  } catch {
    // not cached yet
  }

  const { unstable_readConfig: readConfig, unstable_splitSqlQuery: splitSql } = await import("wrangler");
  const config = readConfig({ config: configPath });
  const d1 = config.d1_databases[0];
  if (join(ROOT, d1.migrations_dir ?? "migrations") !== migrationsDir) throw new Error("bench/run.mjs expects migrations_dir = \"migrations\"");
  const result = {
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    vars: { ...config.vars },
    d1Databases: { [d1.binding]: d1.database_id },
    kvNamespaces: Object.fromEntries(config.kv_namespaces.map((kv) => [kv.binding, kv.id])),
    // Workers Rate Limiting bindings ([[ratelimits]]): Miniflare simulates them locally.
    ratelimits: Object.fromEntries((config.ratelimits ?? []).map(({ name, namespace_id, simple }) => [name, { namespace_id, simple }])),
    // Queues ([[queues.producers]], [[queues.consumers]]): Miniflare runs both locally.
    queueProducers: Object.fromEntries((config.queues?.producers ?? []).map((p) => [p.binding, { queueName: p.queue, ...(p.delivery_delay === undefined ? {} : { deliveryDelay: p.delivery_delay }) }])),
    queueConsumers: Object.fromEntries(
      (config.queues?.consumers ?? []).map((c) => [
        c.queue,
        Object.fromEntries(
          Object.entries({ maxBatchSize: c.max_batch_size, maxBatchTimeout: c.max_batch_timeout, maxRetries: c.max_retries, deadLetterQueue: c.dead_letter_queue, retryDelay: c.retry_delay })
            .filter(([, v]) => v !== undefined),
        ),
      ]),
    ),
    // Durable Objects ([[durable_objects.bindings]], SQLite storage): Miniflare runs them locally.
    durableObjects: Object.fromEntries((config.durable_objects?.bindings ?? []).map((b) => [b.name, { className: b.class_name, useSQLite: true }])),
    migrations: migrationFiles.map((file) => splitSql(readFileSync(join(migrationsDir, file), "utf8"))),
  };
  mkdirSync(dirname(cacheFile), { recursive: true });
  writeFileSync(cacheFile, JSON.stringify(result));
  return result;
}

// ---- Keymint's seed data -----------------------------------------------------------------

async function call(url, init, expected) {
  const response = await fetch(url, init);
  const text = await response.text();
  if (response.status !== expected) throw new Error(`${init?.method ?? "GET"} ${url}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** An account, an OAuth client and an API key, made through the public admin API. */
async function seedKeymint(url, adminToken) {
  const admin = (path, body) =>
    call(`${url}/admin/v1${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }, 201);
  const account = await admin("/accounts", { name: "Bench service", type: "service" });
  const client = await admin("/credentials", { name: "Bench client", type: "oauth_client", account_id: account.id, scopes: [SCOPE] });
  const apiKey = await admin("/credentials", { name: "Bench key", type: "api_key", account_id: account.id, scopes: [SCOPE] });
  return { clientBasic: basicAuth(client.client_id, client.client_secret), apiKey: apiKey.api_key };
}

/** A fresh 60-second access token from Keymint's token endpoint. */
async function mintToken(url, clientBasic) {
  const issued = await call(`${url}/oauth/token`, {
    method: "POST",
    headers: { authorization: clientBasic, "content-type": FORM },
    body: "grant_type=client_credentials",
  }, 200);
  return issued.access_token;
}

// ---- the floors' material ----------------------------------------------------------------

/** The floors' ES256 key pair, secrets and a JWT-sized token signed like Keymint's. */
function floorMaterial(issuer) {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const kid = "floor-es256";
  const clientSecret = `kms_${randomBytes(32).toString("base64url")}`;
  const apiKey = `km_live_${randomBytes(32).toString("base64url")}`;
  const iat = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "ES256", typ: "at+jwt", kid }));
  const payload = b64url(
    JSON.stringify({ iss: issuer, sub: "acct_floor", aud: issuer, client_id: "kmc_floor", cid: "cred_floor", scope: SCOPE, iat, exp: iat + 60, jti: randomUUID() }),
  );
  const signature = sign("sha256", Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: "ieee-p1363" });
  return {
    privateJwk: JSON.stringify({ ...privateKey.export({ format: "jwk" }), kid }),
    publicJwk: JSON.stringify(publicKey.export({ format: "jwk" })),
    clientBasic: basicAuth("kmc_floor", clientSecret),
    clientSecretSha256: sha256Hex(clientSecret),
    apiKey,
    apiKeySha256: sha256Hex(apiKey),
    token: `${header}.${payload}.${b64url(signature)}`,
  };
}

// ---- measuring ---------------------------------------------------------------------------

/**
 * One measured run: warm up, sample the server tree's CPU, load for MEASURE_SECONDS, sample again.
 * `request()` is called right before the warm-up, so any access token in it is fresh.
 */
async function measure(load, target, connections) {
  const { server } = target;
  const { path, ...request } = await target.request();
  const job = { url: `${server.url}${path}`, connections, ...request };
  await load.run({ ...job, duration: WARMUP_SECONDS });
  const before = treeCpu(server.pid);
  const result = await load.run({ ...job, duration: MEASURE_SECONDS });
  const cpu = cpuDelta(before, treeCpu(server.pid));
  const perRequest = (us) => (result.requests ? us / result.requests : null);
  const run = {
    target: target.id,
    label: target.label,
    kind: target.kind,
    connections,
    ...result,
    cpu_us_per_req: perRequest(cpu.totalUs),
    cpu_us_per_req_by_process: Object.fromEntries(Object.entries(cpu.byProcess).map(([name, us]) => [name, perRequest(us)])),
  };
  const failures = run.non2xx + run.errors + run.timeouts;
  log(
    `  ${target.label.padEnd(40)} c=${String(connections).padEnd(3)} ${fmt(run.rps, 0).padStart(6)} req/s  ` +
      `p50 ${fmt(run.p50_ms, 2)} ms  p99 ${fmt(run.p99_ms, 2)} ms  ${fmt(run.cpu_us_per_req, 0)} µs CPU/req` +
      (failures ? `  <-- ${run.non2xx} non-2xx, ${run.errors} errors, ${run.timeouts} timeouts` : ""),
  );
  if (failures) {
    log(`\n!!!!!!!! ${target.label} at ${connections} connections: ${run.non2xx} NON-2XX, ${run.errors} ERRORS, ` +
      `${run.timeouts} TIMEOUTS (statuses ${JSON.stringify(run.statuses)}) !!!!!!!!\n`);
  }
  return run;
}

// ---- reporting ---------------------------------------------------------------------------

function fmt(value, digits) {
  return value === null || value === undefined || !Number.isFinite(value) ? "—" : value.toFixed(digits);
}

/** "CPU a× · req/s b×" against a reference run, or — when there is none. */
function ratio(run, reference) {
  if (!reference?.cpu_us_per_req || !reference.rps || run.cpu_us_per_req === null) return "—";
  return `${fmt(run.cpu_us_per_req / reference.cpu_us_per_req, 1)}× · ${fmt(run.rps / reference.rps, 2)}×`;
}

function markdown(report, targets) {
  const lines = [
    `# Keymint benchmark (${report.mode})`,
    "",
    `${report.started_at} · ${report.machine.cpus} × ${report.machine.cpu_model} · Node ${report.versions.node} · ` +
      `miniflare ${report.versions.miniflare} (workerd ${report.versions.workerd}) · oidc-provider ${report.versions["oidc-provider"]} · ` +
      `autocannon ${report.versions.autocannon}`,
    "",
    `Each run: ${report.settings.warmup_seconds} s warm-up, then ${report.settings.measure_seconds} s measured, on 127.0.0.1. ` +
      `Load average at start / end: ${report.machine.loadavg_at_start.map((n) => n.toFixed(2)).join(" ")} / ` +
      `${report.machine.loadavg_at_end.map((n) => n.toFixed(2)).join(" ")}; whole run ${report.wall_seconds.toFixed(0)} s.`,
    `**The load generator (autocannon, ${report.settings.load_generator === "in-process" ? "in the harness's own process, `--load-in-process`" : "in a separate Node process, bench/load.mjs"}) shares the machine's ${report.machine.cpus} cores with the server ` +
      "under test**, so req/s and latency are lower bounds shaped by that contention; CPU µs/req counts only the server's " +
      "own processes (Miniflare's Node host + workerd, or oidc-provider's Node process) and is the steadier number.",
    "Ratio cells read `CPU ×` · `req/s ×`: the row's CPU per request and its throughput, each divided by the reference's.",
    "CPU counts Miniflare's Node host too (for Keymint it mostly reads the Worker's per-request log line off workerd's stdout); the workerd part is in parentheses.",
    "Keymint's D1 and KV are Miniflare's local simulators inside the same workerd, so their CPU is counted here (remote in production).",
    "",
    "| target | conns | req/s | p50 ms | p99 ms | non-2xx | CPU µs/req (workerd) | vs floor | vs hello-world | vs oidc-provider |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
  ];
  for (const connections of report.settings.connections) {
    const find = (id) => report.runs.find((run) => run.target === id && run.connections === connections);
    for (const target of targets) {
      const run = find(target.id);
      if (!run) continue;
      const floor = target.floor ? find(target.floor) : null;
      const failures = run.non2xx + run.errors + run.timeouts;
      lines.push(
        `| ${target.kind === "keymint" ? `**${target.label}**` : target.label} | ${connections} | ${fmt(run.rps, 0)} | ` +
          `${fmt(run.p50_ms, 2)} | ${fmt(run.p99_ms, 2)} | ${failures ? `**${run.non2xx} (+${run.errors} err, ${run.timeouts} t/o)**` : "0"} | ` +
          `${fmt(run.cpu_us_per_req, 0)} (${fmt(run.cpu_us_per_req_by_process.workerd, 0)}) | ${floor ? `${ratio(run, floor)} (${floor.label})` : "—"} | ` +
          `${target.id === "hello" ? "—" : ratio(run, find("hello"))} | ${target.peer ? ratio(run, find(target.peer)) : "—"} |`,
      );
    }
  }
  lines.push(
    "",
    "Floors: token = one SHA-256 + one KV bulk read (2 keys) + one ES256 sign, credential row and key held per isolate; " +
      "verify = one ES256 verify + one KV bulk read (3 keys); API key = one SHA-256 + one KV bulk read (2 keys). " +
      "Introspection also authenticates the calling client (a credential lookup, from the per-isolate cache when warm, a SHA-256 and a KV read) on top of the verify floor's work. " +
      "oidc-provider cannot introspect JWT access tokens (it answers unsupported_token_type), so introspection has no peer figure.",
    "",
  );
  return lines.join("\n");
}

function packageVersion(path) {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", path, "package.json"), "utf8")).version;
  } catch {
    return "?";
  }
}

// ---- the latency model and cold start ------------------------------------------------------

/**
 * A Keymint host running the bundle through bench/latency/entry.mjs (copied next to the bundle's
 * index.js, which it imports), with its own D1 and KV. Resolves to { pid, url(), restart() }.
 */
async function startLatencyHost({ host, bundlePath, wrangler, adminToken }) {
  const entry = join(dirname(bundlePath), "__bench_latency_entry.mjs");
  copyFileSync(join(BENCH, "latency", "entry.mjs"), entry);
  const flags = wrangler.compatibilityFlags ?? [];
  const started = await host([
    {
      name: "keymint-latency",
      scriptPath: entry,
      // The wrapper needs AsyncLocalStorage; nodejs_compat includes it.
      compatibilityFlags: flags.includes("nodejs_compat") || flags.includes("nodejs_als") ? flags : [...flags, "nodejs_als"],
      bindings: {
        ...wrangler.vars,
        // The webhook phase's receivers listen on 127.0.0.1, as under `npm run dev`.
        WEBHOOK_ALLOW_INSECURE_URLS: "true",
        ADMIN_TOKEN: adminToken,
        KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64url"),
        BENCH_LATENCY: JSON.stringify({
          model: MODEL,
          d1: Object.keys(wrangler.d1Databases),
          kv: Object.keys(wrangler.kvNamespaces),
          queues: Object.keys(wrangler.queueProducers ?? {}),
          ratelimits: Object.keys(wrangler.ratelimits ?? {}),
          durableObjects: Object.keys(wrangler.durableObjects ?? {}),
        }),
      },
      d1Databases: wrangler.d1Databases,
      kvNamespaces: wrangler.kvNamespaces,
      ratelimits: wrangler.ratelimits,
      queueProducers: wrangler.queueProducers,
      queueConsumers: wrangler.queueConsumers,
      durableObjects: wrangler.durableObjects,
      migrations: wrangler.migrations,
      // The issuance hook, in the same workerd; the wrapper passes it on only while a phase asks.
      serviceBindings: { CLAIMS_HOOK: { name: "claims-hook-instant", entrypoint: "InstantHook" } },
      companions: [{ name: "claims-hook-instant", scriptPath: join(BENCH, "latency", "instant-hook.mjs") }],
    },
  ]);
  let url = started.urls["keymint-latency"];
  return {
    pid: started.pid,
    url: () => url,
    async restart() {
      const answer = await started.command({ restart: "keymint-latency" });
      url = answer.url;
      return answer;
    },
  };
}

/** `wrangler check startup` once: its "Active" startup CPU (ms) and the rest of its summary. */
function checkStartup(outfile) {
  const wrangler = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
  const child = spawn(NODE, [wrangler, "check", "startup", "--outfile", outfile], {
    cwd: ROOT,
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  return new Promise((resolve, reject) =>
    child.on("exit", (code) => {
      const number = (pattern) => {
        const match = output.match(pattern);
        return match ? Number(match[1]) : null;
      };
      const active = number(/Active:\s*([\d.]+)\s*ms/);
      if (code !== 0 || active === null) return reject(new Error(`wrangler check startup failed (${code}):\n${output}`));
      resolve({
        active_ms: active,
        gc_ms: number(/including\s*([\d.]+)\s*ms garbage/),
        profile_window_ms: number(/Profile window:\s*([\d.]+)\s*ms/),
        idle_ms: number(/Idle:\s*([\d.]+)\s*ms/),
        samples: number(/Samples:\s*(\d+)/),
        bundle_kib: number(/Bundle:\s*([\d.]+)\s*KiB/),
        gzip_kib: number(/gzip:\s*([\d.]+)\s*KiB/),
      });
    }),
  );
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? (sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2) : null;
};

async function measureStartup(tmp) {
  const runs = [];
  for (let i = 0; i < STARTUP_RUNS; i++) {
    const run = await checkStartup(join(tmp, `startup-${i}.cpuprofile`));
    log(`  wrangler check startup #${i + 1}: Active ${run.active_ms} ms (GC ${run.gc_ms ?? "?"} ms), bundle ${run.bundle_kib} KiB / gzip ${run.gzip_kib} KiB`);
    runs.push(run);
  }
  return {
    tool: "wrangler check startup",
    runs,
    median_active_ms: median(runs.map((r) => r.active_ms)),
    bundle_kib: runs[0]?.bundle_kib ?? null,
    gzip_kib: runs[0]?.gzip_kib ?? null,
  };
}

function latencyMarkdown(report) {
  const latency = report.latency;
  const m = latency.model;
  const cell = (v) => fmt(v, 2);
  const row = (r) => {
    const p = r.per_request;
    const bad = r.non2xx ? ` **(${r.non2xx} non-2xx)**` : "";
    return `| ${r.label}${bad} | ${r.requests} | ${fmt(r.p50_ms, 1)} | ${fmt(r.p99_ms, 1)} | ${cell(p.d1_replica_reads)} | ${cell(p.d1_primary_reads)} | ` +
      `${cell(p.d1_writes)} | ${cell(p.kv_reads)} (${cell(p.kv_keys_read)}) | ${cell(p.kv_writes)} | ${cell(p.queue_sends)} | ${cell(p.do_calls ?? 0)} |`;
  };
  const header = [
    "| case | requests | p50 ms | p99 ms | D1 replica reads | D1 primary reads | D1 writes | KV reads (keys) | KV writes | queue sends | Durable Object calls |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  const all = [...latency.phases, ...(latency.many ? [latency.many] : []), ...latency.first_request];
  const background = all.filter((r) => Object.keys(r.background).length);
  const lines = [
    "## Latency under the model",
    "",
    `Model: KV read ${m.kv_read_ms} ms, KV write ${m.kv_write_ms} ms, D1 replica read ${m.d1_replica_ms} ms, D1 primary (reads on the plain binding, writes, batches) ${m.d1_primary_ms} ms, Durable Object call ${m.do_ms ?? 40} ms, ` +
      `queue send ${m.queue_send_ms} ms (bench/README.md; flags --kv-read-ms … --queue-send-ms). Each call answers after max(model, local simulator time). ` +
      "Calls are counted by a bench-only wrapper around the bindings (bench/latency/entry.mjs) and charged to the request that made them, deferred `ctx.waitUntil` work included; the count columns are means per request.",
    `Requests from the harness's process, ${latency.settings.concurrency} at a time, on 127.0.0.1; p50/p99 on the client's clock (request sent to last byte read). ` +
      `Load average at start / end of this section: ${latency.loadavg_at_start.map((n) => n.toFixed(2)).join(" ")} / ` +
      `${latency.loadavg_at_end.map((n) => n.toFixed(2)).join(" ")} (${report.machine.cpus} cores); other work on the machine adds to every figure.`,
    `Cold = each of ${latency.settings.cold} fresh credentials used once (a client this isolate has never seen); warm = the same ones again right after. ` +
      "Access-token cases: tokens minted (unmeasured) just before, each presented once (cold), then again (warm). Introspection: a fresh calling client and a fresh token, then the same again.",
    "",
    ...header,
    ...latency.phases.map(row),
    "",
  ];
  if (latency.many) {
    const many = latency.many;
    lines.push(
      "### Many credentials at the real cadence",
      "",
      `${many.clients} OAuth clients (the per-isolate credential cache held at most 5,000 when this workload was written), each asking for a token in turn: round-robin, open loop at ` +
        `${many.rate} req/s (achieved ${fmt(many.achieved_rps, 0)}; the pass took ${fmt(many.pass_seconds, 0)} s). ` +
        `Each client had asked once before, in an unmeasured first pass (model off) at least ${many.min_gap_seconds} s earlier, with all ` +
        `${many.clients - 1} others in between: the cadence of a client that fetches a 60-second token when its last one expires.`,
      "",
      ...header,
      row(many),
      "",
    );
  }
  lines.push(
    "### First request of a new isolate",
    "",
    "One request per route, each right after workerd was restarted on the same stored data: a new isolate with empty caches (the script is loaded and evaluated at start-up, so module evaluation is not in this time; see Cold start). Single samples: noisy.",
    "",
    ...header,
    ...latency.first_request.map(row),
    "",
  );
  if (background.length) {
    lines.push("Invocations outside any request during a case (queue consumers, crons, calls no request context was found for):", "");
    for (const r of background) {
      for (const [kind, group] of Object.entries(r.background)) {
        const t = group.totals;
        lines.push(`- ${r.label}: ${group.invocations} ${kind} invocation(s): D1 ${t.d1_replica_reads} replica + ${t.d1_primary_reads} primary reads, ${t.d1_writes} writes; KV ${t.kv_reads} reads, ${t.kv_writes} writes; ${t.queue_sends} queue sends`);
      }
    }
    lines.push("");
  }
  lines.push(`Seeding (model off, rate limiters bypassed): ${latency.seed.credentials} credentials through the admin API in ${fmt(latency.seed.seconds, 1)} s.`, "");
  return lines.join("\n");
}

function startupMarkdown(report) {
  const s = report.startup;
  return [
    "## Cold start",
    "",
    `\`wrangler check startup\` (local workerd, wrangler ${report.versions.wrangler}): **Active ${fmt(s.median_active_ms, 1)} ms** startup CPU, median of ${s.runs.length} runs ` +
      `(${s.runs.map((r) => fmt(r.active_ms, 1)).join(", ")} ms; GC included). Bundle ${fmt(s.bundle_kib, 1)} KiB / gzip ${fmt(s.gzip_kib, 1)} KiB. ` +
      "Measured on this machine's CPU, not Cloudflare's; its profile samples are coarse (a few dozen per run).",
    "",
  ].join("\n");
}

// ---- main --------------------------------------------------------------------------------

async function main() {
  const startedAt = new Date();
  const loadavgAtStart = loadavg(); // other work on the machine skews every number; it is recorded
  const elapsed = () => ((Date.now() - startedAt.getTime()) / 1000).toFixed(1);
  const tmp = mkdtempSync(join(tmpdir(), "keymint-bench-"));
  const cleanUpAlso = []; // directories outside tmp
  const cleanUp = async () => {
    await stopChildren();
    for (const dir of [tmp, ...cleanUpAlso]) rmSync(dir, { recursive: true, force: true });
  };
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => cleanUp().then(() => process.exit(130)));

  try {
    log(`Keymint bench (${QUICK ? "quick" : "full"}; ${[...ONLY].join(", ")}): bundling with wrangler deploy --dry-run, starting servers…`);
    // Bundling and the peer's start need nothing from wrangler.toml: both run meanwhile.
    const bundled = ONLY.has("throughput") || ONLY.has("latency") ? bundleWorker(join(tmp, "bundle")) : Promise.resolve(null);
    const peerClient = { id: "bench-client", secret: randomBytes(32).toString("base64url") };
    const peerStarted = ONLY.has("throughput")
      ? startServer("oidc-provider", join(BENCH, "peer", "server.mjs"), { PEER_CLIENT_ID: peerClient.id, PEER_CLIENT_SECRET: peerClient.secret })
      : Promise.resolve(null);
    for (const pending of [bundled, peerStarted]) pending.catch(() => {}); // failures surface below, not as unhandled
    const wrangler = await readWranglerConfig();
    const issuer = wrangler.vars.ISSUER;
    const adminToken = randomBytes(32).toString("base64url");
    const floor = floorMaterial(issuer);

    /** A host process running the given Workers in Miniflare (bench/server.mjs); resolves to { pid, urls, command }. */
    const host = (workers, persistDir = tmp) =>
      startServer(workers[0].name, join(BENCH, "server.mjs"), {
        BENCH_SERVER: JSON.stringify({
          compatibilityDate: wrangler.compatibilityDate,
          compatibilityFlags: wrangler.compatibilityFlags,
          persistDir,
          workers,
        }),
      });
    const floorWorker = (name, file, bindings) => ({ name, scriptPath: join(BENCH, "floors", file), bindings, kvNamespaces: { KV: `${name}-kv` } });

    let runs = [];
    let targets = [];
    if (ONLY.has("throughput")) {
      const [keymintHost, floorsHost, peer] = await Promise.all([
        bundled.then((scriptPath) => host([keymintWorker(wrangler, scriptPath, adminToken)])),
        host([
          floorWorker("token-floor", "token.js", { ISSUER: issuer, FLOOR_PRIVATE_JWK: floor.privateJwk, FLOOR_SECRET_SHA256: floor.clientSecretSha256 }),
          floorWorker("verify-floor", "verify.js", { FLOOR_PUBLIC_JWK: floor.publicJwk }),
          floorWorker("api-key-floor", "api-key.js", { FLOOR_SECRET_SHA256: floor.apiKeySha256 }),
          floorWorker("hello", "hello.js", {}),
        ]),
        peerStarted,
      ]);
      // What a load target needs: the URL to load and the process tree to charge.
      const server = (hostProcess, name) => ({ pid: hostProcess.pid, url: hostProcess.urls[name] });
      const keymint = server(keymintHost, "keymint");
      const [tokenFloor, verifyFloor, apiKeyFloor, hello] = ["token-floor", "verify-floor", "api-key-floor", "hello"].map((name) => server(floorsHost, name));
      log(`Servers up after ${elapsed()} s.`);

      log("Seeding Keymint through the admin API…");
      const seed = await seedKeymint(keymint.url, adminToken);
      await mintToken(keymint.url, seed.clientBasic); // makes the first signing key
      log(`Seeded after ${elapsed()} s.`);

      const bearer = (token) => ({ authorization: `Bearer ${token}` });
      // Every load target. kind: keymint | floor | ceiling | peer; floor/peer: the ids to compare to.
      targets = [
        { id: "token", kind: "keymint", label: "POST /oauth/token", server: keymint, floor: "token-floor", peer: "peer-token",
          request: () => ({ path: "/oauth/token", method: "POST", headers: { authorization: seed.clientBasic, "content-type": FORM }, body: "grant_type=client_credentials" }) },
        { id: "test-auth-api-key", kind: "keymint", label: "GET /v1/test-auth (API key)", server: keymint, floor: "api-key-floor",
          request: () => ({ path: "/v1/test-auth", method: "GET", headers: bearer(seed.apiKey) }) },
        { id: "test-auth-token", kind: "keymint", label: "GET /v1/test-auth (access token)", server: keymint, floor: "verify-floor",
          request: async () => ({ path: "/v1/test-auth", method: "GET", headers: bearer(await mintToken(keymint.url, seed.clientBasic)) }) },
        { id: "introspect", kind: "keymint", label: "POST /oauth/introspect", server: keymint, floor: "verify-floor",
          request: async () => ({ path: "/oauth/introspect", method: "POST", headers: { authorization: seed.clientBasic, "content-type": FORM },
            body: new URLSearchParams({ token: await mintToken(keymint.url, seed.clientBasic) }).toString() }) },
        { id: "jwks", kind: "keymint", label: "GET /.well-known/jwks.json", server: keymint, peer: "peer-jwks",
          request: () => ({ path: "/.well-known/jwks.json", method: "GET" }) },
        { id: "token-floor", kind: "floor", label: "token floor", server: tokenFloor,
          request: () => ({ path: "/", method: "POST", headers: { authorization: floor.clientBasic, "content-type": FORM }, body: "grant_type=client_credentials" }) },
        { id: "verify-floor", kind: "floor", label: "verify floor", server: verifyFloor,
          request: () => ({ path: "/", method: "GET", headers: bearer(floor.token) }) },
        { id: "api-key-floor", kind: "floor", label: "API-key floor", server: apiKeyFloor,
          request: () => ({ path: "/", method: "GET", headers: bearer(floor.apiKey) }) },
        { id: "hello", kind: "ceiling", label: "hello-world Worker (ceiling)", server: hello,
          request: () => ({ path: "/", method: "GET" }) },
        { id: "peer-token", kind: "peer", label: "oidc-provider POST /token", server: peer,
          request: () => ({ path: "/token", method: "POST", headers: { authorization: basicAuth(peerClient.id, peerClient.secret), "content-type": FORM },
            body: new URLSearchParams({ grant_type: "client_credentials", scope: SCOPE }).toString() }) },
        { id: "peer-jwks", kind: "peer", label: "oidc-provider GET /jwks", server: peer,
          request: () => ({ path: "/jwks", method: "GET" }) },
      ];

      const load = await startLoadGenerator();
      log(`Load generator: autocannon ${LOAD_IN_PROCESS ? "in this (the harness's) process" : "in a separate process (bench/load.mjs)"}.`);
      for (const connections of CONNECTIONS) {
        log(`\n${connections} connections, ${WARMUP_SECONDS} s warm-up + ${MEASURE_SECONDS} s each:`);
        for (const target of targets) runs.push(await measure(load, target, connections));
      }
      // The throughput servers are done: stop them, so that they cannot disturb what follows.
      await stopChildren();
    }

    let latency = null;
    if (ONLY.has("latency")) {
      log(`\nLatency model (KV read ${MODEL.kv_read_ms} ms, KV write ${MODEL.kv_write_ms} ms, D1 replica ${MODEL.d1_replica_ms} ms, D1 primary ${MODEL.d1_primary_ms} ms, queue send ${MODEL.queue_send_ms} ms):`);
      // Its D1 and KV live in memory-backed /dev/shm when there is one: seeding thousands of
      // credentials is then not bound by the disk's fsyncs (nothing measured writes to disk).
      const persistDir = existsSync("/dev/shm") ? mkdtempSync(join("/dev/shm", "keymint-bench-")) : join(tmp, "latency");
      if (persistDir.startsWith("/dev/shm")) cleanUpAlso.push(persistDir);
      const latencyHost = await startLatencyHost({ host: (workers) => host(workers, persistDir), bundlePath: await bundled, wrangler, adminToken });
      const loadavgAtLatencyStart = loadavg();
      latency = { model: MODEL, settings: LATENCY, ...(await runLatency({ latencyHost, adminToken, settings: LATENCY, log })) };
      Object.assign(latency, { loadavg_at_start: loadavgAtLatencyStart, loadavg_at_end: loadavg() });
      await stopChildren();
    }

    let startup = null;
    if (ONLY.has("startup")) {
      log(`\nCold start: wrangler check startup × ${STARTUP_RUNS}…`);
      startup = await measureStartup(tmp);
      log(`  median Active ${startup.median_active_ms} ms`);
    }

    const report = {
      mode: QUICK ? "quick" : "full",
      sections: [...ONLY],
      started_at: startedAt.toISOString(),
      wall_seconds: (Date.now() - startedAt.getTime()) / 1000,
      settings: {
        connections: CONNECTIONS,
        warmup_seconds: WARMUP_SECONDS,
        measure_seconds: MEASURE_SECONDS,
        load_generator: LOAD_IN_PROCESS ? "in-process" : "separate-process",
      },
      machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model.trim() ?? "?", loadavg_at_start: loadavgAtStart, loadavg_at_end: loadavg() },
      versions: {
        node: process.versions.node,
        miniflare: packageVersion("miniflare"),
        workerd: packageVersion("miniflare/node_modules/workerd") === "?" ? packageVersion("workerd") : packageVersion("miniflare/node_modules/workerd"),
        "oidc-provider": packageVersion("oidc-provider"),
        autocannon: packageVersion("autocannon"),
        wrangler: packageVersion("wrangler"),
      },
      compatibility_date: wrangler.compatibilityDate,
      runs,
      latency,
      startup,
    };
    const table = [
      runs.length ? markdown(report, targets) : `# Keymint benchmark (${report.mode})\n\n${report.started_at}; sections: ${report.sections.join(", ")}.\n`,
      latency ? latencyMarkdown(report) : null,
      startup ? startupMarkdown(report) : null,
    ].filter(Boolean).join("\n");
    mkdirSync(RESULTS, { recursive: true });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    writeFileSync(join(RESULTS, `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`), json);
    writeFileSync(join(RESULTS, "latest.json"), json);
    writeFileSync(join(RESULTS, "latest.md"), table);
    process.stdout.write(`\n${table}\n`);

    const failed = runs.filter((run) => run.non2xx + run.errors + run.timeouts > 0);
    const latencyFailed = latency ? [...latency.phases, latency.many, ...latency.first_request].filter((r) => r && r.non2xx > 0) : [];
    if (failed.length || latencyFailed.length) {
      log(`\n!!!!!!!! ${failed.length + latencyFailed.length} RUN(S) HAD NON-2XX RESPONSES OR ERRORS: ` +
        `${[...failed.map((run) => `${run.label} @${run.connections}`), ...latencyFailed.map((r) => r.label)].join(", ")} !!!!!!!!`);
      process.exitCode = 1;
    }
    log(`Done in ${report.wall_seconds.toFixed(0)} s; results in bench/results/latest.{json,md}.`);
  } finally {
    await cleanUp();
  }
}

await main().catch((error) => {
  log(`\nBENCHMARK FAILED: ${error.stack ?? error}`);
  process.exitCode = 1;
});
