import { readFileSync } from "node:fs";
import SwaggerParser from "@apidevtools/swagger-parser";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { generateOpenApi } from "../../scripts/openapi.js";
import { bestKernelPath } from "../../src/core/backend.js";
import { testApp } from "../helpers/app.js";
import { expectProblem } from "../helpers/problem.js";

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

describe("operations", () => {
  it("/healthz and /readyz answer; while draining, readiness and new work get a 503 problem", async () => {
    expect((await request(app.server).get("/healthz")).body).toEqual({ status: "ok" });
    expect((await request(app.server).get("/readyz")).body).toMatchObject({ status: "ready" });
    app.accepting = false;
    try {
      expectProblem(await request(app.server).get("/readyz"), 503, "DRAINING");
      const work = await request(app.server)
        .post("/v1/layers/forward")
        .send({ layer: { type: "relu" }, x: [1] });
      expectProblem(work, 503, "DRAINING");
      expect(work.headers["retry-after"]).toBe("1");
      // Liveness and metrics still answer.
      expect((await request(app.server).get("/healthz")).status).toBe(200);
      expect((await request(app.server).get("/metrics")).status).toBe(200);
    } finally {
      app.accepting = true;
    }
    expect((await request(app.server).get("/readyz")).status).toBe(200);
  });

  it("/metrics has request counts, latency, pool and Node metrics", async () => {
    await request(app.server)
      .post("/v1/layers/forward")
      .send({ layer: { type: "relu" }, x: [1] });
    const res = await request(app.server).get("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    expect(res.text).toMatch(
      /backprop_http_requests_total\{method="POST",route="\/v1\/layers\/forward",status="200"\} [1-9]/,
    );
    expect(res.text).toContain("http_request_duration_seconds_bucket");
    expect(res.text).toMatch(
      /backprop_pool_task_duration_seconds_count\{task="forward",outcome="ok"\} [1-9]/,
    );
    expect(res.text).toContain("backprop_pool_queue_length");
    expect(res.text).toContain("pool_utilization_ratio");
    expect(res.text).toContain("nodejs_eventloop_lag_seconds");
    // vitest runs node as `npm start` does, with relaxed SIMD on: the fastest path is chosen.
    expect(res.text).toContain(`backprop_kernel_path_info{path="${bestKernelPath()}"} 1`);
    expect(res.text).toContain('backprop_kernel_path_info{path="typescript"} 0');
  });

  it("every answer carries a request id", async () => {
    const res = await request(app.server).get("/healthz").set("x-request-id", "abc-123");
    expect(res.headers["x-request-id"]).toBe("abc-123");
  });

  it("/docs serves Swagger UI and /openapi.json the document", async () => {
    const docs = await request(app.server).get("/docs/").redirects(1);
    expect(docs.status).toBe(200);
    expect(docs.text).toContain("swagger");
    const spec = await request(app.server).get("/openapi.json");
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining(["/v1/layers/forward", "/v1/networks/gradient-check", "/healthz"]),
    );
  });
});

describe("openapi.yaml", () => {
  it("is what npm run openapi generates now", async () => {
    const committed = readFileSync(new URL("../../openapi.yaml", import.meta.url), "utf8");
    expect(committed).toBe(await generateOpenApi());
  });

  it("is a valid OpenAPI 3 document", async () => {
    const document = parse(readFileSync(new URL("../../openapi.yaml", import.meta.url), "utf8"));
    await expect(SwaggerParser.validate(document)).resolves.toBeDefined();
  });
});
