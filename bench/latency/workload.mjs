// The latency section of `npm run bench`: Keymint run through bench/latency/entry.mjs, whose
// bindings wait per the latency model and count every call. Uses only public routes (the admin
// API, /oauth/token, /v1/test-auth, /oauth/introspect) and the wrapper's /__bench/* routes.
//
//   1. Seed (model off, rate limits bypassed): fresh credentials for the cold cases and N OAuth
//      clients for the many-credentials workload, through concurrent admin API creates.
//   2. Many credentials, first pass: each of the N clients asks for a token once (unmeasured,
//      model off), in round-robin order.
//   3. Per route, cold then warm: each fresh credential used once (a client the isolate has
//      never seen), then the same credential again.
//   4. Many credentials, measured pass: once at least CADENCE_SECONDS have passed since the first
//      pass began, the same round-robin at a fixed rate, so each client comes back after all
//      N - 1 others and at least a minute after its previous request, as a real client fetching
//      a token a minute apart would (the per-isolate cache and any per-minute throttles in the
//      app then see production's timing, not a compressed one).
//   5. The first request of a new isolate, per route (workerd restarted before each).
import { Buffer } from "node:buffer";

/** A real client fetches a token when its last one (60 s) expires: once a minute. */
const CADENCE_SECONDS = 60;

const FORM = "application/x-www-form-urlencoded";
const SCOPE = "events:write";
const basicAuth = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** One request, timed from the call to the last byte of the body. */
async function timed(base, { path, ...init }) {
  const started = performance.now();
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  return { ms: performance.now() - started, status: response.status, text };
}

async function expectJson(base, request, expected) {
  const { status, text } = await timed(base, request);
  if (status !== expected) throw new Error(`${request.method ?? "GET"} ${request.path}: ${status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Runs `count` jobs, at most `concurrency` at a time; job(i) resolves to anything. */
async function pool(count, concurrency, job) {
  const results = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await job(i);
      }
    }),
  );
  return results;
}

/** Open loop: request i is sent at start + i / rate whatever the earlier ones are doing. */
async function paced(count, rate, job) {
  const started = performance.now();
  const pending = [];
  for (let i = 0; i < count; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(job(i));
  }
  const results = await Promise.all(pending);
  return { results, seconds: (performance.now() - started) / 1000 };
}

const PER_REQUEST = ["d1_replica_reads", "d1_primary_reads", "d1_writes", "kv_reads", "kv_keys_read", "kv_writes", "queue_sends", "queue_messages", "do_calls"];

/** Latencies and statuses of one phase, plus the wrapper's counts for it. */
function phaseResult(id, label, results, counts, extra = {}) {
  const latencies = results.map((r) => r.ms).sort((a, b) => a - b);
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  const fetches = counts.groups.fetch ?? { invocations: 0, totals: {}, histograms: {} };
  const perRequest = Object.fromEntries(PER_REQUEST.map((c) => [c, fetches.invocations ? (fetches.totals[c] ?? 0) / fetches.invocations : null]));
  const background = Object.fromEntries(Object.entries(counts.groups).filter(([kind]) => kind !== "fetch"));
  return {
    id,
    label,
    requests: results.length,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    max_ms: latencies.at(-1) ?? null,
    statuses,
    non2xx: results.filter((r) => r.status < 200 || r.status > 299).length,
    invocations_counted: fetches.invocations,
    per_request: perRequest,
    histograms: fetches.histograms,
    background, // queue consumer / scheduled / unattributed invocations during the phase
    pending_after_settle: counts.pending,
    ...extra,
  };
}

/**
 * Runs the whole latency section against a Keymint host started with the wrapper entry.
 * `latencyHost`: { url(), restart() -> Promise<url> }. Returns { phases, many, first_request, seed }.
 */
export async function runLatency({ latencyHost, adminToken, settings, log }) {
  let base = latencyHost.url();
  const bench = async (path, body) => {
    const init = body === undefined ? { path, method: "GET" } : { path, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
    return expectJson(base, init, 200);
  };
  const admin = (path, body) =>
    expectJson(base, {
      path: `/admin/v1${path}`,
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }, 201);
  const tokenRequest = (clientBasic) => ({ path: "/oauth/token", method: "POST", headers: { authorization: clientBasic, "content-type": FORM }, body: "grant_type=client_credentials" });
  const testAuth = (secret) => ({ path: "/v1/test-auth", method: "GET", headers: { authorization: `Bearer ${secret}` } });
  const introspectRequest = (clientBasic, token) => ({
    path: "/oauth/introspect",
    method: "POST",
    headers: { authorization: clientBasic, "content-type": FORM },
    body: new URLSearchParams({ token }).toString(),
  });
  const mint = async (clientBasic) => (await expectJson(base, tokenRequest(clientBasic), 200)).access_token;

  // ---- 1. seed, with the model off and the rate limiters answering yes -----------------------
  const seedStarted = performance.now();
  await bench("/__bench/model", { on: false, seeding: true });
  // An account holds at most 250 credentials (the fan-out bound): 200 per account here.
  const PER_ACCOUNT = 200;
  const accounts = new Map();
  let made = 0;
  const accountFor = (index) => {
    const slot = Math.floor(index / PER_ACCOUNT);
    if (!accounts.has(slot)) accounts.set(slot, admin("/accounts", { name: `Bench latency ${slot}`, type: "service" }));
    return accounts.get(slot);
  };
  const create = async (type, name) => {
    const account = await accountFor(made++);
    return admin("/credentials", { name, type, account_id: account.id, scopes: [SCOPE] });
  };
  const n = settings.cold;
  const clients = (await pool(n, settings.seedConcurrency, (i) => create("oauth_client", `cold client ${i}`))).map((c) => basicAuth(c.client_id, c.client_secret));
  const callers = (await pool(n, settings.seedConcurrency, (i) => create("oauth_client", `cold introspecting client ${i}`))).map((c) => basicAuth(c.client_id, c.client_secret));
  const apiKeys = (await pool(n, settings.seedConcurrency, (i) => create("api_key", `cold key ${i}`))).map((c) => c.api_key);
  // For the first-request-of-a-new-isolate cases: one client and one key used only there.
  const [isolateClient, isolateCaller] = (await Promise.all([create("oauth_client", "new-isolate client"), create("oauth_client", "new-isolate caller")])).map((c) =>
    basicAuth(c.client_id, c.client_secret),
  );
  const isolateKey = (await create("api_key", "new-isolate key")).api_key;
  // Credentials of an organization other than the default one, with a grant ceiling: their entries
  // carry both, so their cold paths must cost what the default organization's do.
  const tenant = await admin("/organizations", { name: "Bench tenant", grants: [{ api: (await (await fetch(new URL("/.well-known/oauth-authorization-server", base))).json()).issuer, scopes: [SCOPE] }] });
  // One account for the clients, one for the keys: an account holds at most 250 credentials.
  const tenantAccounts = { oauth_client: await admin("/accounts", { name: "Bench tenant clients", type: "service", organization_id: tenant.id }), api_key: await admin("/accounts", { name: "Bench tenant keys", type: "service", organization_id: tenant.id }) };
  const inTenant = (type, name) => admin("/credentials", { name, type, account_id: tenantAccounts[type].id, scopes: [SCOPE] });
  const tenantClients = (await pool(Math.min(n, 200), settings.seedConcurrency, (i) => inTenant("oauth_client", `tenant client ${i}`))).map((c) => basicAuth(c.client_id, c.client_secret));
  const tenantKeys = (await pool(Math.min(n, 200), settings.seedConcurrency, (i) => inTenant("api_key", `tenant key ${i}`))).map((c) => c.api_key);
  // An API whose tokens carry five mapped claims (contract "Custom claims"), and clients with
  // every source set: the claims travel in the entries already read, so the cost is the same read.
  const CLAIMS_API = "https://claims.bench.example";
  await admin("/apis", {
    name: "Bench claims API",
    identifier: CLAIMS_API,
    scopes: [SCOPE],
    token_claims: { tenant: "organization.external_id", plan: "organization.metadata.plan", region: "account.metadata.region", env: "credential.metadata.env", team: "account.name" },
  });
  const claimsOrg = await admin("/organizations", { name: "Bench claims tenant", external_id: "cus_bench", metadata: { plan: "enterprise" } });
  const claimsAccount = await admin("/accounts", { name: "Bench claims clients", type: "service", organization_id: claimsOrg.id, metadata: { region: "eu" } });
  const claimsClients = (
    await pool(Math.min(n, 200), settings.seedConcurrency, (i) =>
      admin("/credentials", { name: `claims client ${i}`, type: "oauth_client", account_id: claimsAccount.id, grants: [{ api: CLAIMS_API, scopes: [SCOPE] }], metadata: { env: "prod" } }),
    )
  ).map((c) => basicAuth(c.client_id, c.client_secret));
  // Clients for the issuance-hook phase (a hook that answers at once: bench/latency/instant-hook.mjs).
  const hookClients = (await pool(n, settings.seedConcurrency, (i) => create("oauth_client", `hook client ${i}`))).map((c) => basicAuth(c.client_id, c.client_secret));
  const manyStarted = performance.now();
  const many = (await pool(settings.many, settings.seedConcurrency, (i) => create("oauth_client", `many ${i}`))).map((c) => basicAuth(c.client_id, c.client_secret));
  const manySeedSeconds = (performance.now() - manyStarted) / 1000;
  await mint(isolateClient); // the first token ever makes the first signing key
  await bench("/__bench/model", { on: true, seeding: false });
  const seed = {
    seconds: (performance.now() - seedStarted) / 1000,
    credentials: 4 * n + 3 + settings.many + tenantClients.length + tenantKeys.length + claimsClients.length,
    many_seed_seconds: manySeedSeconds,
  };
  log(`  seeded ${seed.credentials} credentials in ${seed.seconds.toFixed(1)} s (the ${settings.many} many-workload clients in ${manySeedSeconds.toFixed(1)} s)`);

  /** Resets the counts, runs `count` requests, waits for deferred work and returns the phase. */
  async function phase(id, label, count, makeRequest) {
    await bench("/__bench/reset", {});
    const results = await pool(count, settings.concurrency, (i) => timed(base, makeRequest(i)));
    const counts = await bench(`/__bench/counts?settle=${settings.settleMs}`);
    const result = phaseResult(id, label, results, counts, { concurrency: settings.concurrency });
    report(result);
    return result;
  }
  const fmt = (v, d = 2) => (v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(d));
  function report(r) {
    const p = r.per_request;
    log(
      `  ${r.label.padEnd(58)} n=${String(r.requests).padEnd(5)} p50 ${fmt(r.p50_ms, 1).padStart(6)} ms  p99 ${fmt(r.p99_ms, 1).padStart(6)} ms  ` +
        `D1 ${fmt(p.d1_replica_reads)}r+${fmt(p.d1_primary_reads)}p/${fmt(p.d1_writes)}w  KV ${fmt(p.kv_reads)}r/${fmt(p.kv_writes)}w` +
        (p.queue_sends ? `  Q ${fmt(p.queue_sends)}` : "") +
        (p.do_calls ? `  DO ${fmt(p.do_calls)}` : "") +
        (r.non2xx ? `  <-- ${r.non2xx} non-2xx ${JSON.stringify(r.statuses)}` : ""),
    );
  }

  // ---- 2. many credentials, first pass -------------------------------------------------------
  const firstPassStarted = performance.now();
  const firstSentAt = []; // ms after firstPassStarted, per client
  if (settings.many > 0) {
    log(`  many credentials: first pass over ${settings.many} clients (unmeasured, model off)…`);
    await bench("/__bench/model", { on: false });
    await pool(settings.many, settings.seedConcurrency, (i) => {
      firstSentAt[i] = performance.now() - firstPassStarted;
      return timed(base, tokenRequest(many[i]));
    });
    log(`  first pass took ${((performance.now() - firstPassStarted) / 1000).toFixed(1)} s`);
    await bench("/__bench/model", { on: true });
  }

  // ---- 3. cold and warm, per route -------------------------------------------------------------
  const phases = [];
  const tokens = []; // one access token per cold client, from the cold token phase
  phases.push(
    await phase("token-cold", "POST /oauth/token · cold (credential new to the isolate)", n, (i) => tokenRequest(clients[i])),
  );
  // The tokens for the access-token cases are minted with the model off: not measured.
  phases.push(await phase("token-warm", "POST /oauth/token · warm (same credential again)", n, (i) => tokenRequest(clients[i])));
  phases.push(await phase("api-key-cold", "GET /v1/test-auth (API key) · cold", n, (i) => testAuth(apiKeys[i])));
  phases.push(await phase("api-key-warm", "GET /v1/test-auth (API key) · warm", n, (i) => testAuth(apiKeys[i])));
  phases.push(
    await phase("token-cold-tenant", "POST /oauth/token · cold, an organization's client under a ceiling", tenantClients.length, (i) => tokenRequest(tenantClients[i])),
  );
  phases.push(await phase("api-key-cold-tenant", "GET /v1/test-auth (API key) · cold, an organization's key under a ceiling", tenantKeys.length, (i) => testAuth(tenantKeys[i])));
  const claimsRequest = (clientBasic) => ({ ...tokenRequest(clientBasic), body: new URLSearchParams({ grant_type: "client_credentials", resource: CLAIMS_API }).toString() });
  phases.push(await phase("token-cold-claims", "POST /oauth/token · cold, an API with five mapped claims", claimsClients.length, (i) => claimsRequest(claimsClients[i])));
  // The same cold token request as token-cold, with CLAIMS_HOOK bound to a hook that answers at once.
  await bench("/__bench/model", { hook: true });
  phases.push(await phase("token-cold-hook", "POST /oauth/token · cold, with an issuance hook that answers at once", n, (i) => tokenRequest(hookClients[i])));
  await bench("/__bench/model", { hook: false });

  // An admin change with webhooks: its event is one more statement in the batch it already makes,
  // and the delivery happens after the answer, so 5 subscribed endpoints (one of them a receiver
  // that never answers) must cost what none do.
  const { createServer } = await import("node:http");
  const listen = (handler) => new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
  const answering = await listen((request, response) => request.resume().on("end", () => response.writeHead(204).end()));
  const hanging = await listen((request) => request.resume());
  const adminHeaders = { authorization: `Bearer ${adminToken}`, "content-type": "application/json" };
  const accountCreate = (label) => (i) => ({ path: "/admin/v1/accounts", method: "POST", headers: adminHeaders, body: JSON.stringify({ name: `${label} ${i}`, type: "service" }) });
  const adminN = Math.min(n, 50);
  phases.push(await phase("admin-create-no-webhooks", "POST /admin/v1/accounts · no webhook endpoint", adminN, accountCreate("bench plain")));
  await bench("/__bench/model", { on: false });
  const endpoints = [];
  for (let i = 0; i < 5; i++) {
    const server = i === 4 ? hanging : answering;
    endpoints.push(await admin("/webhooks", { url: `http://127.0.0.1:${server.address().port}/hook-${i}`, events: ["account.created"] }));
  }
  await bench("/__bench/model", { on: true });
  phases.push(await phase("admin-create-5-webhooks", "POST /admin/v1/accounts · 5 subscribed endpoints, one that hangs", adminN, accountCreate("bench hooked")));
  await bench("/__bench/model", { on: false });
  for (const endpoint of endpoints) await fetch(new URL(`/admin/v1/webhooks/${endpoint.id}`, base), { method: "DELETE", headers: adminHeaders });
  await bench("/__bench/model", { on: true });
  answering.close();
  hanging.closeAllConnections();
  hanging.close();
  await bench("/__bench/model", { on: false });
  tokens.push(...(await pool(n, settings.seedConcurrency, (i) => mint(clients[i]))));
  await bench("/__bench/model", { on: true });
  phases.push(await phase("access-token-cold", "GET /v1/test-auth (access token) · cold (token never presented)", n, (i) => testAuth(tokens[i])));
  phases.push(await phase("access-token-warm", "GET /v1/test-auth (access token) · warm (same token again)", n, (i) => testAuth(tokens[i])));
  await bench("/__bench/model", { on: false });
  const introspected = await pool(n, settings.seedConcurrency, (i) => mint(clients[i]));
  await bench("/__bench/model", { on: true });
  phases.push(
    await phase("introspect-cold", "POST /oauth/introspect · cold (new calling client, new token)", n, (i) => introspectRequest(callers[i], introspected[i])),
  );
  phases.push(await phase("introspect-warm", "POST /oauth/introspect · warm (same client and token)", n, (i) => introspectRequest(callers[i], introspected[i])));

  // private_key_jwt and DPoP: what the single-use-id store (a Durable Object) adds to a token
  // request. Assertions and proofs are made (unmeasured) before each phase; each is used once.
  const { SignJWT, exportJWK, generateKeyPair } = await import("jose");
  await bench("/__bench/model", { on: false, seeding: true });
  const signing = await generateKeyPair("ES256", { extractable: true });
  const signer = await admin("/credentials", {
    name: "bench signer",
    type: "oauth_client",
    account_id: (await accountFor(made++)).id,
    scopes: [SCOPE],
    token_endpoint_auth_method: "private_key_jwt",
    jwks: { keys: [{ ...(await exportJWK(signing.publicKey)), kid: "bench" }] },
  });
  const dpopClient = await create("oauth_client", "bench DPoP client");
  await bench("/__bench/model", { on: true, seeding: false });
  const now = () => Math.floor(Date.now() / 1000);
  // Assertions name the issuer as aud, and proofs the token endpoint's URL, as the server has them.
  const { issuer, token_endpoint: tokenUrl } = await (await fetch(new URL("/.well-known/oauth-authorization-server", base))).json();
  const assertions = await Promise.all(
    Array.from({ length: n }, () =>
      new SignJWT({ jti: crypto.randomUUID() }).setProtectedHeader({ alg: "ES256", kid: "bench" }).setIssuer(signer.client_id).setSubject(signer.client_id).setAudience(issuer).setIssuedAt(now()).setExpirationTime(now() + 240).sign(signing.privateKey),
    ),
  );
  const assertionRequest = (assertion) => ({
    path: "/oauth/token",
    method: "POST",
    headers: { "content-type": FORM },
    body: new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion }).toString(),
  });
  phases.push(await phase("token-private-key-jwt", "POST /oauth/token · private_key_jwt (a fresh assertion each)", n, (i) => assertionRequest(assertions[i])));
  const dpopKey = await generateKeyPair("ES256", { extractable: true });
  const dpopJwk = await exportJWK(dpopKey.publicKey);
  const proofs = await Promise.all(
    Array.from({ length: n }, () => new SignJWT({ htm: "POST", htu: tokenUrl, jti: crypto.randomUUID() }).setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: dpopJwk }).setIssuedAt(now()).sign(dpopKey.privateKey)),
  );
  const dpopBasic = basicAuth(dpopClient.client_id, dpopClient.client_secret);
  phases.push(await phase("token-dpop", "POST /oauth/token · client secret with a DPoP proof", n, (i) => ({ ...tokenRequest(dpopBasic), headers: { ...tokenRequest(dpopBasic).headers, dpop: proofs[i] } })));

  // ---- 4. many credentials, measured pass, a minute or more after the first -------------------
  let manyResult = null;
  if (settings.many > 0) {
    // Client i goes at start + i / rate: start late enough that every gap is >= CADENCE_SECONDS.
    const lag = Math.max(...firstSentAt.map((sent, i) => sent - (i * 1000) / settings.manyRate));
    const wait = firstPassStarted + lag + CADENCE_SECONDS * 1000 + 200 - performance.now();
    log(`  many credentials: waiting ${Math.max(0, wait / 1000).toFixed(1)} s, then ${settings.many} clients round-robin at ${settings.manyRate} req/s…`);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await bench("/__bench/reset", {});
    const manyRun = await paced(settings.many, settings.manyRate, (i) => timed(base, tokenRequest(many[i])));
    const manyCounts = await bench(`/__bench/counts?settle=${settings.settleMs}`);
    manyResult = phaseResult("token-many", `POST /oauth/token · ${settings.many} clients round-robin at ${settings.manyRate} req/s`, manyRun.results, manyCounts, {
      clients: settings.many,
      rate: settings.manyRate,
      achieved_rps: manyRun.results.length / manyRun.seconds,
      pass_seconds: manyRun.seconds,
      min_gap_seconds: CADENCE_SECONDS,
    });
    report(manyResult);
  }

  // ---- 5. the first request of a new isolate, per route ---------------------------------------
  // Material made before the restarts; an access token lives 60 s, ample for four restarts.
  await bench("/__bench/model", { on: false });
  const isolateToken = await mint(isolateClient);
  const introspectToken = await mint(isolateClient);
  const firsts = [
    ["token-first", "POST /oauth/token", tokenRequest(isolateClient)],
    ["api-key-first", "GET /v1/test-auth (API key)", testAuth(isolateKey)],
    ["access-token-first", "GET /v1/test-auth (access token)", testAuth(isolateToken)],
    ["introspect-first", "POST /oauth/introspect", introspectRequest(isolateCaller, introspectToken)],
  ];
  const firstRequest = [];
  for (const [id, label, request] of firsts) {
    const restart = await latencyHost.restart(); // the model is on again: the wrapper starts from its binding
    base = restart.url;
    const result = await timed(base, request);
    const counts = await bench(`/__bench/counts?settle=${settings.settleMs}`);
    const r = phaseResult(id, `${label} · first request of a new isolate`, [result], counts, { restart_ms: restart.ms });
    report(r);
    firstRequest.push(r);
  }

  return { seed, phases, many: manyResult, first_request: firstRequest };
}
