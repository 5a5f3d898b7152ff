import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

const build = () => {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
};

/**
 * Worker threads and real server processes run the compiled twin in dist/ (threads cannot load
 * TypeScript). Building here, before any test file and again before each rerun of watch mode,
 * means every run tests the sources as they are, `npx vitest run test/one.test.ts` included;
 * the build skips what is up to date.
 *
 * Every temporary file of the run (data directories, PostgreSQL and Redis servers, browser
 * profiles, in the test files and the processes they start) goes under one directory, set as
 * TMPDIR before the test files' processes start, and removed with it at the end.
 */
export default function setup(project: TestProject): () => void {
  build();
  project.onTestsRerun(build);
  const dir = mkdtempSync(join(tmpdir(), "backprop-run-"));
  // Others may pass through it, not list it: PostgreSQL runs as its own user when we are root.
  chmodSync(dir, 0o711);
  process.env.TMPDIR = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
