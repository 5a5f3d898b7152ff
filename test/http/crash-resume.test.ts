import { describe, expect, it } from "vitest";
import { expectSameAsUninterrupted, mnistJob, waitForJob } from "../helpers/jobs.js";
import { postJson, startServer } from "../helpers/server-process.js";

// Real processes training on MNIST: minutes, not seconds, on a busy 2-core machine.
describe("crash safety, with a real server process", { timeout: 240_000 }, () => {
  it("resumes a job after kill -9 and ends with the bits of an uninterrupted run", async () => {
    // On WebAssembly, pinned so that this holds where OpenBLAS is the default too:
    // test/http/openblas-determinism.test.ts holds the openblas path to the same.
    const env = { CHECKPOINT_INTERVAL_MS: "200", POOL_THREADS: "1", KERNELS: "relaxed-simd" };
    // Batches of 1000 keep the job running for seconds, long enough to be killed midway.
    const job = mnistJob({
      iterations: 400,
      evaluateEvery: 100,
      batchSize: 1000,
      optimizer: { type: "momentum", lr: 0.05 },
    });
    const first = await startServer(env);
    const created = await postJson(`${first.url}/v1/training-jobs`, job);
    expect(created.status).toBe(202);
    const model = await postJson(`${first.url}/v1/models`, {
      name: "kept",
      layers: [{ type: "affine", W: [[1, 0]], b: [0, 0] }, { type: "softmaxWithLoss" }],
    });
    await waitForJob(first.url, created.body.id, (j) => j.progress.iteration >= 150, 60_000);
    first.child.kill("SIGKILL");
    expect((await first.exited).signal).toBe("SIGKILL");

    const second = await startServer({ ...env, DATA_DIR: first.dataDir });
    try {
      const resumed = await waitForJob(second.url, created.body.id);
      expect(resumed.status).toBe("succeeded");
      expect(resumed.kernels).toEqual(["relaxed-simd"]);
      expect(second.output()).toContain("resuming training job");
      const models = await (await fetch(`${second.url}/v1/models/${model.body.id}`)).json();
      expect(models).toMatchObject({ name: "kept" });

      await expectSameAsUninterrupted(second.url, job, resumed);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });

  it("reports in the job a resume on other kernels, whose bits differ from an uninterrupted run", async () => {
    const job = mnistJob({ iterations: 400, evaluateEvery: 100, batchSize: 1000 });
    const first = await startServer({ POOL_THREADS: "1", KERNELS: "relaxed-simd" });
    const created = await postJson(`${first.url}/v1/training-jobs`, job);
    await waitForJob(first.url, created.body.id, (j) => j.progress.iteration >= 100, 60_000);
    // SIGTERM checkpoints the running job where it is.
    first.child.kill("SIGTERM");
    expect((await first.exited).code).toBe(0);

    const second = await startServer({
      POOL_THREADS: "1",
      KERNELS: "simd",
      DATA_DIR: first.dataDir,
    });
    try {
      const resumed = await waitForJob(second.url, created.body.id, undefined, 120_000);
      expect(resumed.status).toBe("succeeded");
      expect(resumed.kernels).toEqual(["relaxed-simd", "simd"]);
      expect(second.output()).toContain("resuming on other kernels than the checkpoint's");
      const again = await postJson(`${second.url}/v1/training-jobs`, job);
      const uninterrupted = await waitForJob(second.url, again.body.id, undefined, 120_000);
      expect(uninterrupted.kernels).toEqual(["simd"]);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });

  it("keeps every model and job across a restart, and checkpoints running jobs on SIGTERM", async () => {
    const first = await startServer({ POOL_THREADS: "1" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        (await postJson(`${first.url}/v1/models`, { name: `m${i}`, layers: [{ type: "sigmoid" }] }))
          .body.id,
      );
    const done = await postJson(
      `${first.url}/v1/training-jobs`,
      mnistJob({ iterations: 10, evaluateEvery: 10 }),
    );
    await waitForJob(first.url, done.body.id);
    const long = await postJson(
      `${first.url}/v1/training-jobs`,
      mnistJob({ iterations: 1500, evaluateEvery: 500, batchSize: 300 }),
    );
    await waitForJob(first.url, long.body.id, (j) => j.progress.iteration > 10);
    const listBefore = await (await fetch(`${first.url}/v1/models?limit=100`)).json();
    first.child.kill("SIGTERM");
    expect((await first.exited).code).toBe(0);

    const second = await startServer({ POOL_THREADS: "1", DATA_DIR: first.dataDir });
    try {
      const listAfter = await (await fetch(`${second.url}/v1/models?limit=100`)).json();
      expect(listAfter).toEqual(listBefore);
      const finished = (await (
        await fetch(`${second.url}/v1/training-jobs/${done.body.id}`)
      ).json()) as { status: string };
      expect(finished.status).toBe("succeeded");
      const resumed = await waitForJob(second.url, long.body.id, undefined, 120_000);
      expect(resumed.status).toBe("succeeded");
      expect(resumed.progress.iteration).toBe(1500);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });

  it("on SIGTERM records the evaluation the pool has in flight before the last checkpoint, and resumes to the bits of an uninterrupted run", async () => {
    // Two compute threads: evaluations run there while the job trains on. Each (10000 + 10000
    // rows) takes longer than the 5 steps between two, so one is always in flight.
    const env = { POOL_THREADS: "2", CHECKPOINT_INTERVAL_MS: "600000" };
    const job = mnistJob({
      data: { dataset: { name: "mnist", split: "train", limit: 10000 } },
      validation: { dataset: { name: "mnist", split: "test" } },
      trainEvaluationSamples: 10000,
      iterations: 200,
      evaluateEvery: 5,
      batchSize: 1000,
    });
    const first = await startServer(env);
    const created = await postJson(`${first.url}/v1/training-jobs`, job);
    expect(created.status).toBe(202);
    await waitForJob(first.url, created.body.id, (j) => j.progress.iteration >= 70, 60_000);
    first.child.kill("SIGTERM");
    expect((await first.exited).code).toBe(0);
    const saved = /"iteration":(\d+).*"msg":"training job checkpointed for shutdown"/.exec(
      first.output(),
    );
    expect(Number(saved?.[1])).toBeGreaterThanOrEqual(70);

    const second = await startServer({ ...env, DATA_DIR: first.dataDir });
    try {
      const atRestart = (await (
        await fetch(`${second.url}/v1/training-jobs/${created.body.id}`)
      ).json()) as { history: { iteration: number }[] };
      // Every evaluation up to the checkpoint is in the history, the one in flight included.
      const last = Math.floor(Number(saved![1]) / 5) * 5;
      expect(atRestart.history.map((h) => h.iteration)).toEqual(
        Array.from({ length: last / 5 }, (_, i) => 5 * (i + 1)),
      );
      const resumed = await waitForJob(second.url, created.body.id, undefined, 120_000);
      expect(resumed.status).toBe("succeeded");
      await expectSameAsUninterrupted(second.url, job, resumed);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });

  it("keeps a cancel that was answered, though the process is killed a moment later", async () => {
    const env = { CHECKPOINT_INTERVAL_MS: "100", POOL_THREADS: "1" };
    const first = await startServer(env);
    const created = await postJson(
      `${first.url}/v1/training-jobs`,
      mnistJob({ iterations: 5000, evaluateEvery: 5000, batchSize: 1000 }),
    );
    // Past a few checkpoints, so a resume would have somewhere to start from.
    await waitForJob(first.url, created.body.id, (j) => j.progress.iteration >= 20, 60_000);
    const cancel = await postJson(`${first.url}/v1/training-jobs/${created.body.id}/cancel`, {});
    first.child.kill("SIGKILL");
    expect(cancel.status).toBe(202);
    expect((await first.exited).signal).toBe("SIGKILL");

    const second = await startServer({ ...env, DATA_DIR: first.dataDir });
    try {
      const ended = await waitForJob(second.url, created.body.id);
      expect(ended.status).toBe("cancelled");
      expect(second.output()).not.toContain("resuming training job");
      // It never trained on: what it shows is at most where the first process was stopped.
      expect(ended.progress.iteration).toBeLessThan(5000);
      expect(ended.resultModelId).toBeDefined();
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });
});
