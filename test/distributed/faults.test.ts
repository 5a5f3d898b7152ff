import { expect, it } from "vitest";
import { describeDistributed, useCluster } from "../helpers/cluster.js";
import { mnistJob, waitForJob } from "../helpers/jobs.js";
import { postJson } from "../helpers/server-process.js";
import { parseEvents } from "../helpers/sse.js";

const REPLICA = { POOL_THREADS: "1", CHECKPOINT_INTERVAL_MS: "200" };

/** 1·1 + 2·1 + 0.5, worked by hand. */
const forward = { layer: { type: "affine", W: [[1], [2]], b: [0.5] }, x: [[1, 1]] };

const status = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, { ...init, headers: { connection: "close", ...init?.headers } });
  return { status: res.status, headers: res.headers, body: await res.json() };
};

/** Polls until the replica says it is ready again: recovery is reported, not guessed. */
async function untilReady(url: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while ((await fetch(`${url}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describeDistributed("faults of PostgreSQL and Redis", () => {
  const cluster = useCluster(REPLICA);

  it("answers 503 STORE_UNAVAILABLE while PostgreSQL is down, keeps computing, and recovers by itself", async () => {
    const replica = await cluster.replica();
    const model = await postJson(`${replica.url}/v1/models`, {
      layers: [{ type: "affine", W: [[1, 0]], b: [0, 0] }, { type: "softmaxWithLoss" }],
    });
    expect(model.status).toBe(201);
    await cluster.pg.stop();
    try {
      expect((await fetch(`${replica.url}/readyz`)).status).toBe(503);
      const models = await status(`${replica.url}/v1/models`);
      expect(models.status).toBe(503);
      expect(models.headers.get("content-type")).toContain("application/problem+json");
      expect(models.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(models.body).toMatchObject({ status: 503, code: "STORE_UNAVAILABLE" });
      const computed = await postJson(`${replica.url}/v1/layers/forward`, forward);
      expect(computed.status).toBe(200);
      expect(computed.body.out).toEqual([[3.5]]);
    } finally {
      await cluster.pg.start();
    }
    await untilReady(replica.url);
    const read = await status(`${replica.url}/v1/models/${model.body.id}`);
    expect(read.status).toBe(200);
    replica.child.kill("SIGTERM");
    expect((await replica.exited).code).toBe(0);
  });

  it("answers 503 to new jobs while Redis is down, trains on meanwhile, and streams progress again once it is back", async () => {
    const replica = await cluster.replica();
    const job = mnistJob({ iterations: 600, evaluateEvery: 300, batchSize: 1000 });
    const created = await postJson(`${replica.url}/v1/training-jobs`, job);
    expect(created.status).toBe(202);
    const before = await waitForJob(replica.url, created.body.id, (j) => j.progress.iteration >= 5);
    const events = fetch(`${replica.url}/v1/training-jobs/${created.body.id}/events`);

    await cluster.redis.stop();
    try {
      const refused = await status(`${replica.url}/v1/training-jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(job),
      });
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ code: "QUEUE_UNAVAILABLE" });
      // The store is up: the job's progress goes on being written while it trains.
      await waitForJob(
        replica.url,
        created.body.id,
        (j) => j.progress.iteration >= before.progress.iteration + 20,
        120_000,
      );
    } finally {
      await cluster.redis.start();
    }
    const ended = await waitForJob(replica.url, created.body.id, undefined, 180_000);
    expect(ended.status).toBe("succeeded");
    // The stream opened before the outage ends with the job, having missed nothing stored.
    const { events: seen } = parseEvents(await (await events).text());
    expect(seen[seen.length - 1]).toMatchObject({ event: "status", data: { status: "succeeded" } });
    expect(
      seen
        .filter((e) => e.event === "evaluation")
        .map((e) => (e.data as { iteration: number }).iteration),
    ).toEqual([300, 600]);
    replica.child.kill("SIGTERM");
    expect((await replica.exited).code).toBe(0);
  });
});
