import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { testApp } from "../helpers/app.js";
import { waitForJob } from "../helpers/jobs.js";
import { expectProblem } from "../helpers/problem.js";
import { startServerExpectingFailure } from "../helpers/server-process.js";
import { tempDir } from "../helpers/temp.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const tinyJob = (iterations: number) => ({
  model: {
    seed: 1,
    architecture: {
      inputSize: 2,
      hiddenSizes: [],
      outputSize: 2,
      activation: "relu",
      weightInit: "he",
    },
  },
  data: {
    x: [
      [0, 1],
      [1, 0],
    ],
    t: [0, 1],
  },
  batchSize: 2,
  iterations,
});

describe("metrics, logs and request ids", () => {
  let app: FastifyInstance;
  let logs = "";
  beforeAll(async () => {
    const stream = new Writable({
      write(chunk, _encoding, done) {
        logs += chunk;
        done();
      },
    });
    app = await buildApp(loadConfig({ POOL_THREADS: "1", DATA_DIR: tempDir() }), {
      logger: { level: "info", stream },
    });
    await app.ready();
  });
  afterAll(() => app.close());

  const metrics = async () => (await request(app.server).get("/metrics")).text;
  const value = (text: string, series: string) => {
    const line = text.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };

  it("counts job outcomes, durations and queue times, and logs a job's start, cancel and end", async () => {
    const done = await request(app.server).post("/v1/training-jobs").send(tinyJob(3));
    await waitForJob(app.server, done.body.id);
    const long = await request(app.server).post("/v1/training-jobs").send(tinyJob(900_000));
    await waitForJob(app.server, long.body.id, (j) => j.status === "running");
    await request(app.server).post(`/v1/training-jobs/${long.body.id}/cancel`);
    await waitForJob(app.server, long.body.id);

    const text = await metrics();
    expect(value(text, 'backprop_training_jobs_finished_total{status="succeeded"}')).toBe(1);
    expect(value(text, 'backprop_training_jobs_finished_total{status="cancelled"}')).toBe(1);
    expect(value(text, 'backprop_training_jobs_finished_total{status="failed"}')).toBe(0);
    expect(value(text, "backprop_training_jobs_started_total")).toBe(2);
    expect(value(text, 'backprop_training_job_duration_seconds_count{status="succeeded"}')).toBe(1);
    expect(value(text, "backprop_training_job_queue_seconds_count")).toBe(2);

    const lines = logs
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg: string; jobId?: string; status?: string });
    const about = (id: string) => lines.filter((l) => l.jobId === id).map((l) => l.msg);
    expect(about(done.body.id)).toEqual(["training job started", "training job ended"]);
    expect(about(long.body.id)).toEqual([
      "training job started",
      "training job cancel requested",
      "training job ended",
    ]);
  });

  it("names its own series backprop_* and reports a utilisation between 0 and 1", async () => {
    const text = await metrics();
    for (const series of [
      "backprop_http_requests_total",
      "backprop_pool_queue_length",
      "backprop_pool_busy_threads",
      "backprop_pool_utilization_ratio",
      "backprop_pool_busy_seconds_total",
      "backprop_kernel_path_info",
      "backprop_training_jobs",
    ]) {
      expect(text).toContain(`# TYPE ${series} `);
    }
    expect(text).not.toMatch(/^# TYPE (http_|pool_|kernel_|training_)/m);
    // Idle now: no thread busy; some busy time was spent on the requests above.
    expect(value(text, "backprop_pool_utilization_ratio")).toBe(0);
  });

  it("counts every status, the 405s, 404s, framework 400s and event streams included", async () => {
    await request(app.server).delete("/v1/datasets");
    await request(app.server).get("/v1/nope");
    const job = await request(app.server).post("/v1/training-jobs").send(tinyJob(2));
    await waitForJob(app.server, job.body.id);
    await request(app.server).get(`/v1/training-jobs/${job.body.id}/events`);
    const text = await metrics();
    expect(
      value(text, 'backprop_http_requests_total{method="DELETE",route="unmatched",status="405"}'),
    ).toBe(1);
    expect(
      value(text, 'backprop_http_requests_total{method="GET",route="unmatched",status="404"}'),
    ).toBe(1);
    expect(
      value(
        text,
        'backprop_http_requests_total{method="GET",route="/v1/training-jobs/:id/events",status="200"}',
      ),
    ).toBe(1);
  });

  it("gives each request a random id, keeps a caller's plain one and replaces a long or odd one", async () => {
    const own = await request(app.server).get("/healthz");
    expect(own.headers["x-request-id"]).toMatch(UUID);
    const kept = await request(app.server).get("/healthz").set("x-request-id", "trace-42.a:b_c");
    expect(kept.headers["x-request-id"]).toBe("trace-42.a:b_c");
    const long = await request(app.server).get("/healthz").set("x-request-id", "x".repeat(5000));
    expect(long.headers["x-request-id"]).toMatch(UUID);
    const odd = await request(app.server).get("/healthz").set("x-request-id", "a b<script>");
    expect(odd.headers["x-request-id"]).toMatch(UUID);
    expect(logs).not.toContain("x".repeat(200));
  });

  it("answers a wrong method with 405 and Allow", async () => {
    const res = await request(app.server).delete("/v1/datasets");
    expectProblem(res, 405, "METHOD_NOT_ALLOWED");
    expect(res.headers.allow).toBe("GET, HEAD");
    const model = await request(app.server).put("/v1/models/abc");
    expectProblem(model, 405, "METHOD_NOT_ALLOWED");
    expect(model.headers.allow).toBe("DELETE, GET, HEAD");
    expectProblem(await request(app.server).get("/v1/nothing-here"), 404, "NOT_FOUND");
  });
});

describe("CORS", () => {
  it("sends no CORS headers unless CORS_ORIGINS is set", async () => {
    const app = await testApp();
    try {
      const res = await request(app.server).get("/v1/datasets").set("origin", "https://a.example");
      expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it("allows the listed origins, preflight included, and no others", async () => {
    const app = await testApp({ CORS_ORIGINS: "https://a.example,http://localhost:5173" });
    try {
      const ok = await request(app.server).get("/v1/datasets").set("origin", "https://a.example");
      expect(ok.headers["access-control-allow-origin"]).toBe("https://a.example");
      expect(ok.headers["access-control-expose-headers"]).toMatch(/x-request-id/);
      const preflight = await request(app.server)
        .options("/v1/models")
        .set("origin", "http://localhost:5173")
        .set("access-control-request-method", "POST")
        .set("access-control-request-headers", "authorization, content-type");
      expect(preflight.status).toBe(204);
      expect(preflight.headers["access-control-allow-origin"]).toBe("http://localhost:5173");
      expect(preflight.headers["access-control-allow-headers"]).toMatch(/authorization/);
      const other = await request(app.server)
        .get("/v1/datasets")
        .set("origin", "https://evil.example");
      expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it("refuses a CORS_ORIGINS entry that is not an origin", () => {
    expect(() => loadConfig({ CORS_ORIGINS: "https://a.example/path" })).toThrow(/CORS_ORIGINS/);
  });
});

describe("start", () => {
  it("DATA_DIR=/proc/nope fails at once with a clear message and a non-zero exit", async () => {
    const ended = await startServerExpectingFailure({ DATA_DIR: "/proc/nope" }, 15_000);
    expect(ended.code).toBe(1);
    expect(ended.stderr).toContain("cannot start: data directory /proc/nope is not writable");
  });
});
