import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterEach, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { expectProblem } from "../helpers/problem.js";
import { slowBody } from "../helpers/tensors.js";

/**
 * Overload as the pool reports it: the tests wait for the pool's own counts (busy threads,
 * queued tasks) rather than for time to pass.
 */

const quick = { layer: { type: "relu" }, x: [[-1, 1]] };

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function until(condition: () => boolean, what: string) {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A request sent now, with a flag that says whether it has been answered yet. */
function send(server: FastifyInstance["server"], url: string, body: object) {
  const state = { settled: false };
  const answer = request(server)
    .post(url)
    .send(body)
    .then((res) => {
      state.settled = true;
      return res;
    });
  return { answer, state };
}

describe("overload", () => {
  it("a request that cannot start within POOL_QUEUE_TIMEOUT_MS is 503 OVERLOADED at its timeout; /readyz reports saturation", async () => {
    app = await testApp({
      POOL_THREADS: "1",
      POOL_MAX_QUEUE: "1",
      POOL_QUEUE_TIMEOUT_MS: "200",
    });
    const pool = app.pool;
    const slow = send(app.server, "/v1/networks/gradient-check", slowBody(120));
    await until(() => pool.busyThreads === 1, "the slow task to start");
    const queued = send(app.server, "/v1/layers/forward", quick);
    await until(() => pool.queueSize === 1, "the quick task to queue");

    const ready = await request(app.server).get("/readyz");
    expectProblem(ready, 503, "OVERLOADED");
    expect(ready.headers["retry-after"]).toBe("1");
    expect(ready.body.detail).toMatch(/1 of 1 threads busy, 1 requests queued/);

    const full = await request(app.server).post("/v1/layers/forward").send(quick);
    expectProblem(full, 503, "OVERLOADED");
    expect(full.body.detail).toMatch(/queue is full/);

    const timedOut = await queued.answer;
    expectProblem(timedOut, 503, "OVERLOADED");
    expect(timedOut.headers["retry-after"]).toBe("1");
    expect(timedOut.body.detail).toMatch(/within 200 ms \(POOL_QUEUE_TIMEOUT_MS\)/);
    // Refused while the slow task still held the only thread, not after it.
    expect(slow.state.settled).toBe(false);
    const notSaturated = await request(app.server).get("/readyz");
    expect(notSaturated.status).toBe(200);
    expect(notSaturated.body).toEqual({
      status: "ready",
      pool: { threads: 1, busy: 1, queued: 0, maxQueue: 1 },
    });
    expect((await slow.answer).status).toBe(200);
  });

  it("the compute deadline counts from when a thread takes the task, not from its arrival", async () => {
    app = await testApp({
      POOL_THREADS: "1",
      REQUEST_TIMEOUT_MS: "300",
      POOL_QUEUE_TIMEOUT_MS: "60000",
    });
    const pool = app.pool;
    const first = send(app.server, "/v1/networks/gradient-check", slowBody(120));
    await until(() => pool.busyThreads === 1, "the first task to start");
    const second = send(app.server, "/v1/networks/gradient-check", slowBody(120));
    await until(() => pool.queueSize === 1, "the second task to queue");
    const third = send(app.server, "/v1/layers/forward", quick);
    await until(() => pool.queueSize === 2, "the third task to queue");

    expectProblem(await first.answer, 504, "DEADLINE_EXCEEDED");
    expectProblem(await second.answer, 504, "DEADLINE_EXCEEDED");
    // It waited for two deadlines, longer than its own, and still got its full time.
    const res = await third.answer;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ out: [[0, 1]] });
  });
});
