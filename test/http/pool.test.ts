import { once } from "node:events";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterEach, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { endlessBody, slowBody } from "../helpers/tensors.js";

const quick = { layer: { type: "relu" }, x: [[-1, 1]] };

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** The ids of the pool's threads now. */
const threadIds = (app: FastifyInstance) => app.pool.piscina.threads.map((t) => t.threadId);

async function timed(run: () => Promise<request.Response>) {
  const started = performance.now();
  const res = await run();
  return { res, ms: performance.now() - started };
}

describe("the worker pool", () => {
  it("keeps the event loop free while a long computation runs", async () => {
    app = await testApp({ POOL_THREADS: "1" });
    const server = app.server;
    const started = once(app.pool.events, "taskStarted");
    const slow = request(server).post("/v1/networks/gradient-check").send(slowBody(80));
    const slowEnded = slow.then(() => performance.now());
    await started;
    const health: number[] = [];
    for (let i = 0; i < 5; i++)
      health.push((await timed(() => request(server).get("/healthz"))).ms);
    const healthEnded = performance.now();
    expect((await slow).status).toBe(200);
    // All five were answered quickly while the computation still ran (however fast this machine).
    expect(healthEnded).toBeLessThan(await slowEnded);
    expect(Math.max(...health)).toBeLessThan(200);
  });

  it("answers 503 with Retry-After at once when the queue is full", async () => {
    app = await testApp({ POOL_THREADS: "1", POOL_MAX_QUEUE: "1" });
    const server = app.server;
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        timed(() => request(server).post("/v1/networks/gradient-check").send(slowBody(30))),
      ),
    );
    const rejected = results.filter((r) => r.res.status === 503);
    expect(rejected.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.res.status === 200).length).toBeGreaterThan(0);
    for (const { res } of rejected) {
      expect(res.body.code).toBe("OVERLOADED");
      expect(res.headers["retry-after"]).toBe("1");
    }
    const fastest = Math.min(...results.filter((r) => r.res.status === 200).map((r) => r.ms));
    for (const { ms } of rejected) expect(ms).toBeLessThan(fastest);
  });

  it("answers 504 past the deadline, stops the work, and serves on", async () => {
    // The deadline leaves the quick task after the 504 time for its fresh thread to start (which
    // takes longer than 200 ms on a busy machine); the aborted computation takes far longer still.
    app = await testApp({ POOL_THREADS: "1", REQUEST_TIMEOUT_MS: "2000" });
    const [victim] = threadIds(app);
    const aborted = once(app.pool.events, "taskAborted");
    // A computation of a minute here answers 504 as soon as the pool has aborted it.
    const res = await request(app.server).post("/v1/networks/gradient-check").send(endlessBody());
    expect(res.status).toBe(504);
    expect(res.body.code).toBe("DEADLINE_EXCEEDED");
    expect(await aborted).toEqual(["gradientCheck", expect.anything()]);
    // The work stopped: the thread that ran it was ended, and a quick task runs on its successor.
    const next = await request(app.server).post("/v1/layers/forward").send(quick);
    expect(next.body).toEqual({ out: [[0, 1]] });
    expect(threadIds(app)).toHaveLength(1);
    expect(threadIds(app)).not.toContain(victim);
  });

  it("frees the worker of a client that hangs up", async () => {
    app = await testApp({ POOL_THREADS: "1" });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const controller = new AbortController();
    const started = once(app.pool.events, "taskStarted");
    const aborted = once(app.pool.events, "taskAborted");
    const abandoned = fetch(`${url}/v1/networks/gradient-check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(endlessBody()),
      signal: controller.signal,
    }).catch(() => "aborted");
    // Hang up only once the computation runs in the worker, however fast this machine is.
    await started;
    const [victim] = threadIds(app);
    controller.abort();
    expect(await abandoned).toBe("aborted");
    // The server reports the abort: the hang-up, not a deadline, ended the task.
    const [task, reason] = await aborted;
    expect(task).toBe("gradientCheck");
    expect(String(reason)).toContain("client gone");
    const res = await fetch(`${url}/v1/layers/forward`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(quick),
    });
    expect(await res.json()).toEqual({ out: [[0, 1]] });
    // Freed, not waited for: the thread that held the abandoned task was ended and replaced.
    expect(threadIds(app)).toHaveLength(1);
    expect(threadIds(app)).not.toContain(victim);
  });
});
