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
//   5. Print a Markdown table and write bench/results/{<timestamp>,latest}.json and latest.md.
import { spawn } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { cpuDelta, treeCpu } from "./lib/cpu.mjs";

const QUICK = process.argv.includes("--quick");

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
 * returned with the process id. Its stderr is passed through.
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
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      resolve({ pid: child.pid, ...JSON.parse(line) });
    });
  });
}

/** The load generator: one long-lived process; run(job) sends a job and awaits its result line. */
function startLoadGenerator() {
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
  const key = createHash("sha256").update(`v2 ${packageVersion("wrangler")}`).update(readFileSync(configPath)); // v2: this function's output shape
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
    `**The load generator (autocannon, one Node process) shares the machine's ${report.machine.cpus} cores with the server ` +
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

// ---- main --------------------------------------------------------------------------------

async function main() {
  const startedAt = new Date();
  const loadavgAtStart = loadavg(); // other work on the machine skews every number; it is recorded
  const elapsed = () => ((Date.now() - startedAt.getTime()) / 1000).toFixed(1);
  const tmp = mkdtempSync(join(tmpdir(), "keymint-bench-"));
  const cleanUp = async () => {
    await stopChildren();
    rmSync(tmp, { recursive: true, force: true });
  };
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => cleanUp().then(() => process.exit(130)));

  try {
    log(`Keymint bench (${QUICK ? "quick" : "full"}): bundling with wrangler deploy --dry-run, starting servers…`);
    // Bundling and the peer's start need nothing from wrangler.toml: both run meanwhile.
    const bundled = bundleWorker(join(tmp, "bundle"));
    const peerClient = { id: "bench-client", secret: randomBytes(32).toString("base64url") };
    const peerStarted = startServer("oidc-provider", join(BENCH, "peer", "server.mjs"), { PEER_CLIENT_ID: peerClient.id, PEER_CLIENT_SECRET: peerClient.secret });
    for (const pending of [bundled, peerStarted]) pending.catch(() => {}); // failures surface below, not as unhandled
    const wrangler = await readWranglerConfig();
    const issuer = wrangler.vars.ISSUER;
    const adminToken = randomBytes(32).toString("base64url");
    const floor = floorMaterial(issuer);

    /** A host process running the given Workers in Miniflare (bench/server.mjs); resolves to { pid, urls }. */
    const host = (workers) =>
      startServer(workers[0].name, join(BENCH, "server.mjs"), {
        BENCH_SERVER: JSON.stringify({
          compatibilityDate: wrangler.compatibilityDate,
          compatibilityFlags: wrangler.compatibilityFlags,
          persistDir: tmp,
          workers,
        }),
      });
    const floorWorker = (name, file, bindings) => ({ name, scriptPath: join(BENCH, "floors", file), bindings, kvNamespaces: { KV: `${name}-kv` } });

    const [keymintHost, floorsHost, peer] = await Promise.all([
      bundled.then((scriptPath) =>
        host([
          {
            name: "keymint",
            scriptPath,
            bindings: { ...wrangler.vars, ADMIN_TOKEN: adminToken, KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64url") },
            d1Databases: wrangler.d1Databases,
            kvNamespaces: wrangler.kvNamespaces,
            ratelimits: wrangler.ratelimits,
            migrations: wrangler.migrations,
          },
        ]),
      ),
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
    const targets = [
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

    const load = startLoadGenerator();
    const runs = [];
    for (const connections of CONNECTIONS) {
      log(`\n${connections} connections, ${WARMUP_SECONDS} s warm-up + ${MEASURE_SECONDS} s each:`);
      for (const target of targets) runs.push(await measure(load, target, connections));
    }

    const report = {
      mode: QUICK ? "quick" : "full",
      started_at: startedAt.toISOString(),
      wall_seconds: (Date.now() - startedAt.getTime()) / 1000,
      settings: { connections: CONNECTIONS, warmup_seconds: WARMUP_SECONDS, measure_seconds: MEASURE_SECONDS },
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
    };
    const table = markdown(report, targets);
    mkdirSync(RESULTS, { recursive: true });
    const json = `${JSON.stringify(report, null, 2)}\n`;
    writeFileSync(join(RESULTS, `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`), json);
    writeFileSync(join(RESULTS, "latest.json"), json);
    writeFileSync(join(RESULTS, "latest.md"), table);
    process.stdout.write(`\n${table}\n`);

    const failed = runs.filter((run) => run.non2xx + run.errors + run.timeouts > 0);
    if (failed.length) {
      log(`\n!!!!!!!! ${failed.length} RUN(S) HAD NON-2XX RESPONSES OR ERRORS: ${failed.map((run) => `${run.label} @${run.connections}`).join(", ")} !!!!!!!!`);
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
