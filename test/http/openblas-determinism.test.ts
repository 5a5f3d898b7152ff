import { describe, expect, it } from "vitest";
import { loadOpenblasOps } from "../../src/core/kernels/openblas-ops.js";
import { expectSameAsUninterrupted, mnistJob, waitForJob } from "../helpers/jobs.js";
import { postJson, startServer } from "../helpers/server-process.js";

const openblas = "ops" in loadOpenblasOps();

// Where OpenBLAS is installed (CI always: .ci/run); real processes training on MNIST.
describe.runIf(openblas)("a training job on the openblas path", { timeout: 240_000 }, () => {
  it("ends with the same bits after kill -9, on another pool size, as an uninterrupted run", async () => {
    const env = { KERNELS: "openblas", CHECKPOINT_INTERVAL_MS: "200" };
    // Batches of 1000 keep the job running for seconds, long enough to be killed midway.
    const job = mnistJob({
      iterations: 400,
      evaluateEvery: 100,
      batchSize: 1000,
      optimizer: { type: "adam", lr: 0.001 },
      weightDecay: 0.001,
    });
    // One compute thread first (evaluations on the job's own thread), then two (evaluations in
    // the pool while the job trains on).
    const first = await startServer({ ...env, POOL_THREADS: "1" });
    expect(first.output()).toContain('"msg":"numeric kernels: openblas (OpenBLAS');
    const created = await postJson(`${first.url}/v1/training-jobs`, job);
    expect(created.status).toBe(202);
    await waitForJob(first.url, created.body.id, (j) => j.progress.iteration >= 150, 60_000);
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");

    const second = await startServer({ ...env, POOL_THREADS: "2", DATA_DIR: first.dataDir });
    try {
      const resumed = await waitForJob(second.url, created.body.id, undefined, 120_000);
      expect(resumed.status).toBe("succeeded");
      expect(second.output()).toContain("resuming training job");
      expect(resumed.history.map((h: { iteration: number }) => h.iteration)).toEqual([
        100, 200, 300, 400,
      ]);
      await expectSameAsUninterrupted(second.url, job, resumed);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });
});
