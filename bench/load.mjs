// The load generator: autocannon's programmatic API in a process of its own, so that its CPU
// is never charged to a server. It reads one JSON job per stdin line and answers each with one
// JSON line on stdout:
//   { url, method, headers, body, connections, duration }  ->  { requests, rps, p50_ms, p99_ms, ... }
// `npm run bench -- --load-in-process` imports run() instead and loads from the harness's own
// process (the CPU figures are the same either way: only the servers' process trees are charged).
// Latency percentiles come from every response's own time (autocannon's histogram has 1 ms
// steps, too coarse for sub-millisecond Workers).
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function run(job) {
  const latencies = [];
  const statuses = {};
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: job.url,
    method: job.method,
    headers: job.headers,
    body: job.body,
    connections: job.connections,
    duration: job.duration,
    pipelining: 1,
    // autocannon stops at the first sample tick after `duration`; the default 1 s tick would
    // stretch a 2 s run to 3 s.
    sampleInt: 100,
  });
  instance.on("response", (_client, status, _bytes, ms) => {
    latencies.push(ms);
    statuses[status] = (statuses[status] ?? 0) + 1;
  });
  const result = await instance;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    seconds,
    rps: latencies.length / seconds,
    p50_ms: percentile(latencies, 50),
    p99_ms: percentile(latencies, 99),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statuses,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    try {
      process.stdout.write(`${JSON.stringify(await run(JSON.parse(line)))}\n`);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ failed: String(error) })}\n`);
    }
  }
}
