import { expect, it } from "vitest";
import { mnistJob, waitForJob } from "../helpers/jobs.js";
import { postJson, startServer, startServerExpectingFailure } from "../helpers/server-process.js";

it("lets one process at a time serve a DATA_DIR: a second says so in one line and exits, training nothing", async () => {
  const first = await startServer({ POOL_THREADS: "1" });
  try {
    const created = await postJson(
      `${first.url}/v1/training-jobs`,
      mnistJob({ iterations: 100_000, evaluateEvery: 100_000, batchSize: 1000 }),
    );
    await waitForJob(first.url, created.body.id, (j) => j.progress.iteration >= 1);

    const second = await startServerExpectingFailure({ DATA_DIR: first.dataDir });
    expect(second.code).not.toBe(0);
    // Its start-up log lines, then the reason it stops, in one line on stderr.
    const said = second.stderr.trim().split("\n");
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(
      `${first.dataDir} is in use by another backprop process (pid ${first.child.pid})`,
    );
    expect(second.stdout).not.toContain("training job");

    // The first process is unharmed and still the job's only runner.
    const job = await waitForJob(first.url, created.body.id, (j) => j.progress.iteration >= 2);
    expect(job.status).toBe("running");
    expect(first.output()).not.toContain("resuming training job");
  } finally {
    first.child.kill("SIGKILL");
    await first.exited;
  }
  // Killed with SIGKILL, it leaves no stale lock: the next process starts and resumes the job.
  const next = await startServer({ POOL_THREADS: "1", DATA_DIR: first.dataDir });
  try {
    expect(next.output()).toContain("resuming training job");
  } finally {
    next.child.kill("SIGKILL");
    await next.exited;
  }
});
