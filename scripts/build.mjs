/**
 * `npm run build` (and what `npm start` runs first): compiles the AssemblyScript modules to
 * dist/kernels/, the TypeScript to dist/ and the dashboard's to dist/ui/ (with its static files),
 * each only when a source of it is newer than its
 * output, so a restart does not spend seconds rebuilding what has not changed (loading tsc alone
 * takes longer than starting the server). BUILD_FORCE=1 rebuilds everything.
 */
import { execFileSync } from "node:child_process";
import { cpSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const MODULES = [
  {
    dir: "src/core/kernels/assembly",
    entry: "exports.ts",
    target: "simd",
    out: "dist/kernels/simd.wasm",
  },
  {
    dir: "src/core/kernels/assembly",
    entry: "exports.ts",
    target: "relaxed-simd",
    out: "dist/kernels/relaxed-simd.wasm",
  },
  { dir: "src/wire/assembly", entry: "base64.ts", out: "dist/kernels/base64.wasm" },
];

const mtime = (path) => {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
};
const newestIn = (dir) => Math.max(...readdirSync(dir).map((f) => mtime(join(dir, f))));
/** The newest file under `dir`, skipping the folders `skip` names (another compiler's). */
const newestTree = (dir, skip = ["assembly", "ui"]) =>
  Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
      const path = join(dir, entry.name);
      if (!entry.isDirectory()) return mtime(path);
      return skip.includes(entry.name) ? -1 : newestTree(path, skip);
    }),
  );
const force = process.env.BUILD_FORCE === "1";
const compiler = mtime("node_modules/assemblyscript/package.json");

for (const { dir, entry, target, out } of MODULES) {
  const stale = force || mtime(out) < Math.max(newestIn(dir), compiler);
  if (!stale) continue;
  const args = [join(dir, entry), "--config", join(dir, "asconfig.json")];
  if (target) args.push("--target", target);
  execFileSync(join("node_modules", ".bin", "asc"), args, { stdio: "inherit" });
  console.log(`built ${out}`);
}

const typescript = Math.max(
  newestTree("src"),
  mtime("tsconfig.json"),
  mtime("tsconfig.build.json"),
  mtime("node_modules/typescript/package.json"),
);
if (force || mtime("dist/.tsbuildinfo") < typescript || mtime("dist/server.js") < 0) {
  const args = ["-b", "tsconfig.build.json", ...(force ? ["--force"] : [])];
  execFileSync(join("node_modules", ".bin", "tsc"), args, { stdio: "inherit" });
}

// The dashboard: its own tsconfig (DOM, ES modules for the browser), then its static files.
const ui = Math.max(newestTree("src/ui", []), mtime("node_modules/typescript/package.json"));
if (force || mtime("dist/ui/.built") < ui) {
  execFileSync(join("node_modules", ".bin", "tsc"), ["-p", "src/ui/tsconfig.json"], {
    stdio: "inherit",
  });
  cpSync("src/ui/static", "dist/ui", { recursive: true });
  writeFileSync("dist/ui/.built", "");
}
