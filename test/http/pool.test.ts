import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterEach, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { slowBody } from "../helpers/tensors.js";

const quick = { layer: { type: "relu" }, x: [[-1, 1]] };

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function timed(run: () => Promise<request.Response>) {
  const started = performance.now();
  const res = await run();
  return { res, ms: performance.now() - started };
}

describe("the worker pool", () => {
  it("keeps the event loop free while a long computation runs", async () => {
    app = await testApp({ POOL_THREADS: "1" });
    const server = app.server;
    const slow = request(server).post("/v1/networks/gradient-check").send(slowBody(80));
    const slowEnded = slow.then(() => performance.now());
    await new Promise((r) => setTimeout(r, 100));
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
    app = await testApp({ POOL_THREADS: "1", REQUEST_TIMEOUT_MS: "200" });
    const { res, ms } = await timed(() =>
      request(app!.server).post("/v1/networks/gradient-check").send(slowBody(60)),
    );
    expect(res.status).toBe(504);
    expect(res.body.code).toBe("DEADLINE_EXCEEDED");
    expect(ms).toBeLessThan(1500);
    // The single worker was freed: a quick task does not wait for the abandoned one.
    const next = await timed(() => request(app!.server).post("/v1/layers/forward").send(quick));
    expect(next.res.body).toEqual({ out: [[0, 1]] });
    expect(next.ms).toBeLessThan(1000);
  });

  it("frees the worker of a client that hangs up", async () => {
    app = await testApp({ POOL_THREADS: "1" });
    await app.listen({ port: 0, host: "127.0.0.1" });
    const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const controller = new AbortController();
    const abandoned = fetch(`${url}/v1/networks/gradient-check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(slowBody(60)),
      signal: controller.signal,
    }).catch(() => "aborted");
    await new Promise((r) => setTimeout(r, 300));
    controller.abort();
    expect(await abandoned).toBe("aborted");
    const started = performance.now();
    const res = await fetch(`${url}/v1/layers/forward`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(quick),
    });
    expect(await res.json()).toEqual({ out: [[0, 1]] });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
