import { expect, it } from "vitest";
import { describeDistributed, useCluster } from "../helpers/cluster.js";
import { mnistJob, parameterBits, waitForJob } from "../helpers/jobs.js";
import { postJson, type ServerProcess, startServer } from "../helpers/server-process.js";
import { parseEvents, type StreamEvent } from "../helpers/sse.js";

const field = (event: StreamEvent, name: string) => (event.data as Record<string, unknown>)[name];

// Pinned to one kernel path, so that the embedded run the takeover is compared with computes the
// same bits wherever OpenBLAS is the default (test/http/openblas-determinism.test.ts holds that
// path to the same).
const REPLICA = { POOL_THREADS: "1", KERNELS: "relaxed-simd", CHECKPOINT_INTERVAL_MS: "200" };

/** A job that trains for seconds on a loaded machine: long enough to kill or cancel midway. */
const longJob = (iterations = 400) =>
  mnistJob({
    iterations,
    evaluateEvery: 100,
    batchSize: 1000,
    optimizer: { type: "momentum", lr: 0.05 },
  });

const getJson = async (url: string) => {
  const res = await fetch(url, { headers: { connection: "close" } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** Waits until a replica's log shows `pattern` (what the replica reports, not a sleep). */
async function waitForLog(replica: ServerProcess, pattern: RegExp, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(replica.output())) {
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the log:\n${replica.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(replica: ServerProcess, signal: NodeJS.Signals = "SIGTERM") {
  replica.child.kill(signal);
  return replica.exited;
}

/** The same request on an embedded server of its own: what an uninterrupted run gives. */
async function embeddedRun(job: object) {
  const embedded = await startServer(REPLICA);
  try {
    const created = await postJson(`${embedded.url}/v1/training-jobs`, job);
    const done = await waitForJob(embedded.url, created.body.id, undefined, 180_000);
    return {
      history: done.history as unknown[],
      bits: await parameterBits(embedded.url, done.resultModelId),
    };
  } finally {
    await stop(embedded);
  }
}

describeDistributed("replicas on PostgreSQL and Redis", () => {
  const cluster = useCluster(REPLICA);

  it("reads on one replica the models made or deleted on another", async () => {
    const [a, b] = await Promise.all([cluster.replica(), cluster.replica()]);
    const made = await postJson(`${a.url}/v1/models`, {
      name: "shared",
      layers: [{ type: "affine", W: [[1.5, -2]], b: [0.25, 0] }, { type: "softmaxWithLoss" }],
    });
    expect(made.status).toBe(201);
    const read = await getJson(`${b.url}/v1/models/${made.body.id}/parameters`);
    expect(read.status).toBe(200);
    expect(read.body.layers).toEqual([
      { type: "affine", W: [[1.5, -2]], b: [0.25, 0] },
      { type: "softmaxWithLoss" },
    ]);
    const listed = await getJson(`${b.url}/v1/models?limit=100`);
    expect((listed.body.items as { id: string }[]).map((m) => m.id)).toContain(made.body.id);
    const deleted = await fetch(`${b.url}/v1/models/${made.body.id}`, { method: "DELETE" });
    expect(deleted.status).toBe(204);
    expect((await getJson(`${a.url}/v1/models/${made.body.id}`)).status).toBe(404);
    await Promise.all([stop(a), stop(b)]);
  });

  it("streams on one replica the events of a job trained on another, replaying from Last-Event-ID", async () => {
    const trainer = await cluster.replica();
    const created = await postJson(`${trainer.url}/v1/training-jobs`, longJob(300));
    expect(created.status).toBe(202);
    await waitForJob(trainer.url, created.body.id, (j) => j.status === "running");
    // Started after the job was taken: this replica only follows it.
    const follower = await cluster.replica();
    const res = await fetch(`${follower.url}/v1/training-jobs/${created.body.id}/events`);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const { events } = parseEvents(await res.text());
    const last = events[events.length - 1];
    expect(last.event).toBe("status");
    expect(last.data).toMatchObject({ status: "succeeded" });
    expect(
      events.filter((e) => e.event === "evaluation").map((e) => field(e, "iteration")),
    ).toEqual([100, 200, 300]);
    expect(events.some((e) => e.event === "progress")).toBe(true);
    const ids = events.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
    expect(follower.output()).not.toMatch(new RegExp(`"jobId":"${created.body.id}".*training job`));

    // From another replica, after the second evaluation's id: what followed it, once each.
    const second = events.find((e) => e.event === "evaluation" && field(e, "iteration") === 200)!;
    const replay = await fetch(`${trainer.url}/v1/training-jobs/${created.body.id}/events`, {
      headers: { "last-event-id": String(second.id) },
    });
    const { events: replayed } = parseEvents(await replay.text());
    expect(replayed.map((e) => e.id)).toEqual(
      events.filter((e) => Number(e.id) > Number(second.id)).map((e) => e.id),
    );
    await Promise.all([stop(trainer), stop(follower)]);
  });

  it("moves a job off a replica killed with SIGKILL and ends with the bits of an uninterrupted run", async () => {
    const job = longJob();
    const doomed = await cluster.replica({ JOB_TAKEOVER_S: "4" });
    const created = await postJson(`${doomed.url}/v1/training-jobs`, job);
    expect(created.status).toBe(202);
    const survivor = await cluster.replica({ JOB_TAKEOVER_S: "4" });
    await waitForJob(survivor.url, created.body.id, (j) => j.progress.iteration >= 150, 120_000);
    expect((await stop(doomed, "SIGKILL")).signal).toBe("SIGKILL");

    const ended = await waitForJob(survivor.url, created.body.id, undefined, 180_000);
    expect(ended.status).toBe("succeeded");
    expect(survivor.output()).toContain("resuming training job");
    const uninterrupted = await embeddedRun(job);
    expect(await parameterBits(survivor.url, ended.resultModelId)).toBe(uninterrupted.bits);
    expect(ended.history).toEqual(uninterrupted.history);
    await stop(survivor);
  });

  it("hands its jobs back on SIGTERM, to be taken at once, and keeps them across a restart of every replica", async () => {
    // A lease this long never lapses in the test: only a hand-back can move the job.
    const env = { JOB_TAKEOVER_S: "600" };
    const job = longJob(600);
    const first = await cluster.replica(env);
    const created = await postJson(`${first.url}/v1/training-jobs`, job);
    await waitForJob(first.url, created.body.id, (j) => j.progress.iteration >= 100, 120_000);
    const second = await cluster.replica(env);
    expect((await stop(first)).code).toBe(0);
    expect(first.output()).toContain("training job checkpointed for shutdown");
    await waitForLog(second, /resuming training job/);

    // Then every replica stops: the job waits in the queue for the next one to start.
    await waitForJob(second.url, created.body.id, (j) => j.progress.iteration >= 300, 120_000);
    expect((await stop(second)).code).toBe(0);
    const third = await cluster.replica(env);
    const ended = await waitForJob(third.url, created.body.id, undefined, 180_000);
    expect(ended.status).toBe("succeeded");
    expect(third.output()).toContain("resuming training job");
    const uninterrupted = await embeddedRun(job);
    expect(await parameterBits(third.url, ended.resultModelId)).toBe(uninterrupted.bits);
    expect(ended.history).toEqual(uninterrupted.history);
    await stop(third);
  });

  it("cancels from any replica a job running on another, for good", async () => {
    const trainer = await cluster.replica();
    const created = await postJson(`${trainer.url}/v1/training-jobs`, longJob(100_000));
    await waitForJob(trainer.url, created.body.id, (j) => j.progress.iteration >= 5, 120_000);
    const other = await cluster.replica();
    const cancel = await postJson(`${other.url}/v1/training-jobs/${created.body.id}/cancel`, {});
    expect(cancel.status).toBe(202);
    const ended = await waitForJob(other.url, created.body.id, undefined, 60_000);
    expect(ended.status).toBe("cancelled");
    expect(ended.resultModelId).toEqual(expect.any(String));
    // Restarted, neither replica trains it on.
    await Promise.all([stop(trainer, "SIGKILL"), stop(other, "SIGKILL")]);
    const again = await cluster.replica();
    const after = await getJson(`${again.url}/v1/training-jobs/${created.body.id}`);
    expect(after.body).toMatchObject({ status: "cancelled", progress: ended.progress });
    await stop(again);
  });

  it("holds a tenant to one rate limit and one pending-job cap across replicas", async () => {
    const env = {
      API_KEYS: "alice:alice-key-0001",
      RATE_LIMIT_PER_MINUTE: "10",
      MAX_PENDING_JOBS_PER_TENANT: "1",
    };
    const [a, b] = await Promise.all([cluster.replica(env), cluster.replica(env)]);
    const auth = { authorization: "Bearer alice-key-0001", connection: "close" };
    const seen: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${i % 2 ? b.url : a.url}/v1/datasets`, { headers: auth });
      seen.push(res.status);
    }
    // Ten a minute in all, not ten on each replica.
    expect(seen.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(seen.slice(10)).toEqual([429, 429]);
    await Promise.all([stop(a), stop(b)]);

    const limits = { ...env, RATE_LIMIT_PER_MINUTE: "1000" };
    const [c, d] = await Promise.all([cluster.replica(limits), cluster.replica(limits)]);
    const submit = (url: string) =>
      fetch(`${url}/v1/training-jobs`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(longJob(100_000)),
      });
    const first = await submit(c.url);
    expect(first.status).toBe(202);
    const second = await submit(d.url);
    expect(second.status).toBe(429);
    expect(await second.json()).toMatchObject({ code: "TOO_MANY_JOBS" });
    const { id } = (await first.json()) as { id: string };
    await fetch(`${d.url}/v1/training-jobs/${id}/cancel`, { method: "POST", headers: auth });
    await Promise.all([stop(c), stop(d)]);
  });
});
