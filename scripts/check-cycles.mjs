// Fails when the module graph of src/ has an import cycle, type-only imports included: the
// layers (routes → services → storage) hold only if nothing imports its way back up.
// `npm test` runs it. A few lines of our own instead of madge, whose TypeScript parser needs the
// compiler's JavaScript API (this repo builds with TypeScript 7, which has none).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(process.argv[2] ?? "src");
const files = (function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : /\.tsx?$/.test(name) ? [path] : [];
  });
})(root);

// Static imports and re-exports (`import … from`, `export … from`, `import "…"`) and `import("…")` types.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g;

function resolveImport(from, specifier) {
  const base = resolve(dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, join(base, "index.ts"), join(base, "index.tsx")]) {
    if (files.includes(candidate)) return candidate;
  }
  return null;
}

const graph = new Map(files.map((file) => [file, [...readFileSync(file, "utf8").matchAll(SPECIFIER)].map((m) => resolveImport(file, m[1])).filter(Boolean)]));

// Depth-first search; a grey node met again closes a cycle.
const state = new Map();
const cycles = [];
function visit(file, path) {
  state.set(file, "grey");
  for (const next of graph.get(file) ?? []) {
    if (state.get(next) === "grey") cycles.push([...path.slice(path.indexOf(next)), next]);
    else if (!state.has(next)) visit(next, [...path, next]);
  }
  state.set(file, "black");
}
for (const file of files) if (!state.has(file)) visit(file, [file]);

if (cycles.length > 0) {
  for (const cycle of cycles) console.error(`import cycle: ${cycle.map((file) => relative(process.cwd(), file)).join(" → ")}`);
  process.exit(1);
}
console.log(`no import cycle among ${files.length} modules in ${relative(process.cwd(), root) || "."}`);
