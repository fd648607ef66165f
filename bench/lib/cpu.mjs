// CPU time of a process and all its descendants, from Linux's /proc.
//
// The benchmark charges each request the CPU its *server* spent: the Node process hosting
// Miniflare plus the workerd it spawned (or the oidc-provider Node process). The load
// generator runs in its own process and is never counted.
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { basename } from "node:path";

/** Clock ticks per second, the unit of utime/stime in /proc/<pid>/stat (almost always 100). */
const CLOCK_TICKS = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** { comm, ppid, ticks } of one process, or null when it is gone. */
function readStat(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name is in parentheses and may itself contain spaces or ')': split after the last one.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" "); // fields[0] is field 3 ("state") of proc(5)
  return { comm, ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) }; // utime + stime
}

/** Children of every thread of `pid` (needs CONFIG_PROC_CHILDREN), or null if unavailable. */
function childrenFromTasks(pid) {
  try {
    const pids = [];
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").trim();
      if (text) pids.push(...text.split(/\s+/).map(Number));
    }
    return pids;
  } catch {
    return null;
  }
}

/** Fallback: scan every /proc/<pid>/stat for processes whose parent is `pid`. */
function childrenFromScan(pid) {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((child) => readStat(child)?.ppid === pid);
}

/** `root` and all its live descendants. */
export function processTree(root) {
  const all = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift();
    all.push(pid);
    queue.push(...(childrenFromTasks(pid) ?? childrenFromScan(pid)));
  }
  return all;
}

/**
 * CPU microseconds used so far by `root` and its descendants, in total and by process name
 * (e.g. { node: 120000, workerd: 9800000 }). Resolution is one clock tick (10 ms).
 */
export function treeCpu(root) {
  const byProcess = {};
  let totalUs = 0;
  for (const pid of processTree(root)) {
    const stat = readStat(pid);
    if (!stat) continue;
    const us = (stat.ticks * 1e6) / CLOCK_TICKS;
    const name = exeName(pid, stat.comm);
    byProcess[name] = (byProcess[name] ?? 0) + us;
    totalUs += us;
  }
  return { totalUs, byProcess };
}

/** The executable's name ("node", "workerd"); Node renames its main thread, so comm won't do. */
function exeName(pid, comm) {
  try {
    return basename(readlinkSync(`/proc/${pid}/exe`));
  } catch {
    return comm;
  }
}

/** CPU used between two treeCpu() samples. */
export function cpuDelta(before, after) {
  const byProcess = {};
  for (const [name, us] of Object.entries(after.byProcess)) byProcess[name] = us - (before.byProcess[name] ?? 0);
  return { totalUs: after.totalUs - before.totalUs, byProcess };
}
