import { describe, expect, it } from "vitest";
import { startServer } from "../helpers/server-process.js";
import { randomMatrix, seeded } from "../helpers/tensors.js";

describe("graceful shutdown", () => {
  it("on SIGTERM finishes the request in flight, refuses new ones and exits 0 within 10 s", async () => {
    const server = await startServer({ POOL_THREADS: "1" });
    const random = seeded(1);
    const slow = fetch(`${server.url}/v1/networks/gradient-check`, {
      method: "POST",
      headers: { "content-type": "application/json", connection: "close" },
      body: JSON.stringify({
        layers: [
          { type: "affine", W: randomMatrix(50, 50, random), b: new Array(50).fill(0) },
          { type: "softmaxWithLoss" },
        ],
        x: randomMatrix(32, 50, random),
        t: Array.from({ length: 32 }, (_, i) => i % 50),
      }),
    });
    // SIGTERM once the computation runs in the worker (as /metrics counts), not after a guess.
    for (;;) {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      if (Number(/^backprop_pool_tasks_started_total (\d+)/m.exec(metrics)?.[1]) >= 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const stopAt = performance.now();
    server.child.kill("SIGTERM");
    // The server logs this once it has stopped accepting work.
    while (!server.output().includes("shutting down")) await new Promise((r) => setTimeout(r, 20));
    const late = await fetch(`${server.url}/v1/layers/forward`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ layer: { type: "relu" }, x: [1] }),
    }).then(
      (r) => r.status,
      () => "refused",
    );
    expect([503, "refused"]).toContain(late);

    const res = await slow;
    expect(res.status).toBe(200);
    expect(((await res.json()) as { parameters: unknown[] }).parameters).toHaveLength(2);
    const { code } = await server.exited;
    expect(code).toBe(0);
    expect(performance.now() - stopAt).toBeLessThan(10_000);
    expect(server.output()).toContain("shutting down");
  });
});
