// Hosts Workers in workerd through Miniflare's API: one Miniflare instance (so one workerd, with
// its own local KV and D1) per Worker, in a process of its own so that the benchmark can charge
// this process tree (this Node process + its workerd children) with the servers' CPU.
// Keymint gets a host process to itself; the small floor Workers share one (they are measured
// one at a time, and an idle workerd costs nothing), which saves start-up time.
//
// Input: the BENCH_SERVER env var, JSON (and BENCH_INSPECTOR_PORT, optional: the first Worker's
// inspector listens there; bench/profile.mjs uses it)
//   { compatibilityDate, compatibilityFlags, persistDir,
//     workers: [{ name, scriptPath, bindings, kvNamespaces, d1Databases?, ratelimits?,
//                 queueProducers?, queueConsumers?, compatibilityFlags?, migrations?,
//                 serviceBindings?, companions?: [{ name, scriptPath, ... }] }] }
// where migrations is a list of SQL statement lists, one per migration file, applied in order
// through the D1 binding "DB".
// Output: one JSON line on stdout, { "urls": { <name>: "http://127.0.0.1:<port>" } }, once all serve.
// Commands, one JSON line each on stdin: { "restart": <name> } restarts that Worker's workerd
// (a new isolate; D1 and KV persist on disk) and answers { "restarted": <name>, "url", "ms" }.
// Stops when its stdin closes (the parent exited) or on SIGTERM/SIGINT.
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { Miniflare } from "miniflare";

const config = JSON.parse(process.env.BENCH_SERVER ?? "{}");

/** One Worker's own options (the main one, or a companion it binds as a service). */
function workerOptions(worker) {
  return {
    name: worker.name,
    modules: true,
    scriptPath: worker.scriptPath,
    modulesRoot: dirname(worker.scriptPath), // module names must not climb out of it with ".."
    modulesRules: [{ type: "ESModule", include: ["**/*.js"] }], // the floors import ./shared.js
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: worker.compatibilityFlags ?? config.compatibilityFlags,
    bindings: worker.bindings,
    d1Databases: worker.d1Databases,
    kvNamespaces: worker.kvNamespaces,
    ratelimits: worker.ratelimits,
    queueProducers: worker.queueProducers,
    queueConsumers: worker.queueConsumers,
    durableObjects: worker.durableObjects,
    serviceBindings: worker.serviceBindings,
  };
}

function options(worker) {
  const shared = {
    durableObjectsPersist: join(config.persistDir, worker.name, "do"),
    d1Persist: join(config.persistDir, worker.name, "d1"),
    kvPersist: join(config.persistDir, worker.name, "kv"),
    host: "127.0.0.1",
    port: 0,
    // bench/profile.mjs: the first Worker's inspector, for CPU profiles (Profiler only).
    ...(process.env.BENCH_INSPECTOR_PORT && worker === config.workers[0] ? { inspectorPort: Number(process.env.BENCH_INSPECTOR_PORT) } : {}),
    cf: false, // no request.cf download from the network
    // The Worker's per-request log lines are read and dropped, as a production Worker's would be
    // shipped off by the platform; stderr (errors) is kept.
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      stderr.pipe(process.stderr);
    },
  };
  // Companions (Workers this one binds as services, e.g. an issuance hook) run in the same
  // workerd, as Cloudflare usually runs a service binding's target on the same machine.
  if (!worker.companions?.length) return { ...shared, ...workerOptions(worker) };
  return { ...shared, workers: [workerOptions(worker), ...worker.companions.map(workerOptions)] };
}

const instances = config.workers.map((worker) => ({ worker, mf: new Miniflare(options(worker)) }));

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await Promise.all(instances.map(({ mf }) => mf.dispose().catch(() => {}))); // also stops workerd
  process.exit(0);
}
process.stdin.on("end", stop);
createInterface({ input: process.stdin }).on("line", async (line) => {
  if (!line.trim()) return;
  const command = JSON.parse(line);
  const instance = instances.find(({ worker }) => worker.name === command.restart);
  try {
    if (!instance) throw new Error(`no worker ${command.restart}`);
    // A fresh Miniflare (and workerd process) on the same persist dirs: a new isolate that has
    // seen nothing, over the same stored data. Migrations are not applied again.
    const started = performance.now();
    await instance.mf.dispose();
    instance.mf = new Miniflare(options(instance.worker));
    const url = await instance.mf.ready;
    process.stdout.write(`${JSON.stringify({ restarted: command.restart, url: url.origin, ms: performance.now() - started })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ failed: String(error) })}\n`);
  }
});
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

async function ready({ worker, mf }) {
  const url = await mf.ready;
  if (worker.migrations?.length) {
    const db = await mf.getD1Database("DB");
    for (const statements of worker.migrations) await db.batch(statements.map((sql) => db.prepare(sql)));
  }
  return [worker.name, url.origin];
}

const urls = await Promise.all(instances.map(ready)).catch((error) => {
  if (stopping) return new Promise(() => {}); // told to stop while starting: stop() exits
  throw error;
});
process.stdout.write(`${JSON.stringify({ urls: Object.fromEntries(urls) })}\n`);
