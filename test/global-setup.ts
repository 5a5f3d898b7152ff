import { execFileSync } from "node:child_process";
import type { TestProject } from "vitest/node";

const build = () => {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
};

/**
 * Worker threads and real server processes run the compiled twin in dist/ (threads cannot load
 * TypeScript). Building here, before any test file and again before each rerun of watch mode,
 * means every run tests the sources as they are, `npx vitest run test/one.test.ts` included;
 * the build skips what is up to date.
 */
export default function setup(project: TestProject): void {
  build();
  project.onTestsRerun(build);
}
