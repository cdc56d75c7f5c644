// Fails (exit 1) when the console's modules import each other in a cycle, or when any module
// imports the entry point (src/main.ts), which only wires and starts the app.
//
//   node console/tests/no-import-cycles.mjs [SRC_DIR] [ENTRY]   (defaults: console/src, main.ts)
//
// Run by console/build.sh before bundling. No dependencies: it reads the relative specifiers of
// `import … from "./x"`, `import "./x"`, `export … from "./x"` and `import("./x")` in every .ts
// file under SRC_DIR (type-only imports count too: the rule is "no cycle", not "no cycle that
// esbuild keeps"). Specifiers that do not name a .ts file there (e.g. "./app.css") are ignored.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const srcDir = resolve(process.argv[2] ?? join(here, "..", "src"));
const entry = resolve(srcDir, process.argv[3] ?? "main.ts");

function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Removes block comments and whole-line // comments (enough for import lines; strings keep "//"). */
function withoutComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

const SPECIFIERS = [
  // import x from "./a"; import { a, b } from "./a"; import type { A } from "./a"; export { a } from "./a"
  /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*["']([^"']+)["']/g,
  // import "./a"
  /\bimport\s*["']([^"']+)["']/g,
  // import("./a")
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
];

function resolveSpecifier(from, spec) {
  if (!spec.startsWith("./") && !spec.startsWith("../")) return undefined;
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) {
    if (candidate.endsWith(".ts") && !candidate.endsWith(".d.ts") && existsSync(candidate) && statSync(candidate).isFile()) {
      return candidate;
    }
  }
  return undefined;
}

const files = tsFiles(srcDir);
if (files.length === 0) {
  console.error(`no-import-cycles: no .ts files under ${srcDir}`);
  process.exit(1);
}
/** @type {Map<string, string[]>} */
const graph = new Map();
for (const file of files) {
  const text = withoutComments(readFileSync(file, "utf8"));
  const targets = new Set();
  for (const pattern of SPECIFIERS) {
    for (const match of text.matchAll(pattern)) {
      const target = resolveSpecifier(file, match[1]);
      if (target) targets.add(target);
    }
  }
  graph.set(file, [...targets].sort());
}

const name = (path) => relative(srcDir, path);
const problems = [];

for (const [file, targets] of graph) {
  if (targets.includes(entry)) problems.push(`${name(file)} imports the entry point ${name(entry)}`);
}

// Depth-first search; a back edge to a module on the current path closes a cycle.
const state = new Map(); // undefined: not seen, 1: on the path, 2: done
const path = [];
const seenCycles = new Set();
function visit(file) {
  state.set(file, 1);
  path.push(file);
  for (const target of graph.get(file) ?? []) {
    const s = state.get(target);
    if (s === 1) {
      const cycle = path.slice(path.indexOf(target)).concat(target).map(name);
      const key = [...cycle.slice(0, -1)].sort().join(" ");
      if (!seenCycles.has(key)) {
        seenCycles.add(key);
        problems.push(`import cycle: ${cycle.join(" → ")}`);
      }
    } else if (s === undefined) {
      visit(target);
    }
  }
  path.pop();
  state.set(file, 2);
}
for (const file of graph.keys()) if (!state.has(file)) visit(file);

if (problems.length > 0) {
  for (const problem of problems) console.error(`console: ${problem}`);
  process.exit(1);
}
