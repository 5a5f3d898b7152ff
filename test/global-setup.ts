import { execFileSync } from "node:child_process";

/**
 * Worker threads and real server processes run the compiled twin in dist/ (threads cannot load
 * TypeScript). Building here, before any test file, means every run tests the sources as they
 * are, `npx vitest run test/one.test.ts` included; the build skips what is up to date.
 */
export default function build(): void {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
}
