import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 30_000,
    // As `npm start` runs: the relaxed-SIMD kernels are tested, not skipped.
    poolOptions: { forks: { execArgv: ["--experimental-wasm-relaxed-simd"] } },
  },
});
