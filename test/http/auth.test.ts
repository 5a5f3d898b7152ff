import { get } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { testApp } from "../helpers/app.js";
import { mnistJob, waitForJob } from "../helpers/jobs.js";
import { tempDir } from "../helpers/temp.js";

const ALICE = "alice-key-0001";
const ALICE_NEW = "alice-key-0002";
const BOB = "bob-key-000001";

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp({
    API_KEYS: `alice:${ALICE},alice:${ALICE_NEW},bob:${BOB}`,
    METRICS_KEY: "metrics-key-0123456789",
    RATE_LIMIT_PER_MINUTE: "40",
    MAX_PENDING_JOBS_PER_TENANT: "1",
  });
});
afterAll(() => app.close());

const as = (key: string) => ({
  get: (url: string) => request(app.server).get(url).set("authorization", `Bearer ${key}`),
  post: (url: string, body: object = {}) =>
    request(app.server).post(url).set("authorization", `Bearer ${key}`).send(body),
});
/** The status of a GET with a raw request target, as a proxy or a hand-made client sends it. */
async function rawGet(target: string): Promise<number> {
  if (!app.server.listening) await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: target }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", reject);
  });
}

const tinyModel = {
  layers: [
    {
      type: "affine",
      W: [
        [1, 0],
        [0, 1],
      ],
      b: [0, 0],
    },
    { type: "softmaxWithLoss" },
  ],
};

describe("authentication", () => {
  it("refuses /v1 without a key, with WWW-Authenticate, before reading the body", async () => {
    const none = await request(app.server)
      .post("/v1/layers/forward")
      .send({ layer: { type: "relu" }, x: [1] });
    expect(none.status).toBe(401);
    expect(none.body.code).toBe("UNAUTHORIZED");
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="backprop"');
    const wrong = await as("not-a-key-at-all").post("/v1/layers/forward", {
      layer: { type: "relu" },
      x: [1],
    });
    expect(wrong.status).toBe(401);
    // A body far over the limit is never read: the answer is 401, not 413.
    const huge = await request(app.server)
      .post("/v1/layers/forward")
      .set("content-type", "application/json")
      .send("x".repeat(70 * 1024 * 1024));
    expect(huge.status).toBe(401);
  });

  it("accepts every key of a tenant, so keys can rotate", async () => {
    for (const key of [ALICE, ALICE_NEW, BOB]) {
      const res = await as(key).post("/v1/layers/forward", { layer: { type: "relu" }, x: [1, -1] });
      expect(res.body).toEqual({ out: [1, 0] });
    }
  });

  it("leaves health and readiness open and puts metrics behind their own key", async () => {
    expect((await request(app.server).get("/healthz")).status).toBe(200);
    expect((await request(app.server).get("/readyz")).status).toBe(200);
    expect((await request(app.server).get("/metrics")).status).toBe(401);
    expect((await as(ALICE).get("/metrics")).status).toBe(401);
    expect((await as("metrics-key-0123456789").get("/metrics")).status).toBe(200);
  });

  it("judges the route the router matched, not the raw request target", async () => {
    // Each of these targets reaches the /v1/models or /metrics route.
    for (const target of ["http://evil/v1/models", "/%761/models", "/v1/%6dodels"]) {
      expect(await rawGet(target)).toBe(401);
    }
    for (const target of ["http://evil/metrics", "/%6detrics"]) {
      expect(await rawGet(target)).toBe(401);
    }
  });

  it("rejects malformed key lists at start", () => {
    expect(() => loadConfig({ API_KEYS: "alice" })).toThrow(/tenant:key/);
    expect(() => loadConfig({ API_KEYS: "alice:short" })).toThrow(/8 or more/);
    expect(() => loadConfig({ API_KEYS: "alice:short" })).not.toThrow(/short/);
  });
});

describe("tenants", () => {
  it("never see each other's models", async () => {
    const model = (await as(ALICE).post("/v1/models", { name: "alice's", ...tinyModel })).body;
    expect((await as(ALICE_NEW).get(`/v1/models/${model.id}`)).status).toBe(200);
    for (const url of [`/v1/models/${model.id}`, `/v1/models/${model.id}/parameters`]) {
      expect((await as(BOB).get(url)).status).toBe(404);
    }
    expect((await as(BOB).post(`/v1/models/${model.id}/predict`, { x: [[1, 2]] })).status).toBe(
      404,
    );
    expect(
      (
        await request(app.server)
          .delete(`/v1/models/${model.id}`)
          .set("authorization", `Bearer ${BOB}`)
      ).status,
    ).toBe(404);
    const bobs = (await as(BOB).get("/v1/models")).body.items.map((m: { id: string }) => m.id);
    expect(bobs).not.toContain(model.id);
    const alices = (await as(ALICE).get("/v1/models")).body.items.map((m: { id: string }) => m.id);
    expect(alices).toContain(model.id);
  });

  it("never see each other's jobs, and each has a cap on pending jobs", async () => {
    const body = {
      model: tinyModel,
      data: {
        x: [
          [1, 0],
          [0, 1],
        ],
        t: [0, 1],
      },
      batchSize: 2,
      iterations: 200000,
      evaluateEvery: 100000,
    };
    const job = await as(ALICE).post("/v1/training-jobs", body);
    expect(job.status).toBe(202);
    const second = await as(ALICE).post("/v1/training-jobs", body);
    expect(second.status).toBe(429);
    expect(second.body.code).toBe("TOO_MANY_JOBS");
    expect(second.headers["retry-after"]).toBeDefined();
    for (const url of [
      `/v1/training-jobs/${job.body.id}`,
      `/v1/training-jobs/${job.body.id}/events`,
    ]) {
      expect((await as(BOB).get(url)).status).toBe(404);
    }
    expect((await as(BOB).post(`/v1/training-jobs/${job.body.id}/cancel`)).status).toBe(404);
    expect((await as(BOB).get("/v1/training-jobs")).body.items).toEqual([]);
    expect((await as(ALICE).post(`/v1/training-jobs/${job.body.id}/cancel`)).status).toBe(202);
    let status = "";
    for (let i = 0; i < 200 && status !== "cancelled"; i++) {
      status = (await as(ALICE).get(`/v1/training-jobs/${job.body.id}`)).body.status;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe("cancelled");
  });
});

describe("rate limits", () => {
  it("answer 429 with Retry-After per tenant, leaving other tenants alone", async () => {
    let limited: request.Response | undefined;
    for (let i = 0; i < 60 && !limited; i++) {
      const res = await as(BOB).get("/v1/datasets");
      if (res.status === 429) limited = res;
    }
    expect(limited?.body.code).toBe("RATE_LIMITED");
    expect(Number(limited?.headers["retry-after"])).toBeGreaterThan(0);
    expect((await as(ALICE).get("/v1/datasets")).status).toBe(200);
  });
});

describe("OPEN_RECORDS_TENANT: what was made open, handed to a tenant", () => {
  it("gives that tenant the models and jobs made while the service ran open, and no one else", async () => {
    const dataDir = tempDir();
    const open = await testApp({ DATA_DIR: dataDir });
    const model = await request(open.server)
      .post("/v1/models")
      .send({
        name: "open",
        layers: [{ type: "affine", W: [[1, 0]], b: [0, 0] }, { type: "softmaxWithLoss" }],
      });
    expect(model.status).toBe(201);
    const job = await request(open.server)
      .post("/v1/training-jobs")
      .send({ ...mnistJob({ iterations: 10, evaluateEvery: 10 }) });
    expect(job.status).toBe(202);
    await waitForJob(open.server, job.body.id);
    await open.close();

    const keys = `alice:${ALICE},bob:${BOB}`;
    const keyed = await testApp({ DATA_DIR: dataDir, API_KEYS: keys });
    // Keys alone: the open records are kept but nobody's.
    const hidden = await request(keyed.server)
      .get(`/v1/models/${model.body.id}`)
      .set("authorization", `Bearer ${ALICE}`);
    expect(hidden.status).toBe(404);
    await keyed.close();

    const adopted = await testApp({
      DATA_DIR: dataDir,
      API_KEYS: keys,
      OPEN_RECORDS_TENANT: "alice",
    });
    try {
      const asAlice = (url: string) =>
        request(adopted.server).get(url).set("authorization", `Bearer ${ALICE}`);
      const asBob = (url: string) =>
        request(adopted.server).get(url).set("authorization", `Bearer ${BOB}`);
      expect((await asAlice(`/v1/models/${model.body.id}`)).body.name).toBe("open");
      const trained = await asAlice(`/v1/training-jobs/${job.body.id}`);
      expect(trained.body.status).toBe("succeeded");
      expect((await asAlice(`/v1/models/${trained.body.resultModelId}`)).status).toBe(200);
      expect((await asBob(`/v1/models/${model.body.id}`)).status).toBe(404);
      expect((await asBob("/v1/models")).body.items).toEqual([]);
    } finally {
      await adopted.close();
    }
  });

  it("refuses to start with a tenant no key belongs to, naming the variable", () => {
    expect(() => loadConfig({ API_KEYS: `alice:${ALICE}`, OPEN_RECORDS_TENANT: "carol" })).toThrow(
      /OPEN_RECORDS_TENANT: "carol" is not a tenant of API_KEYS/,
    );
    expect(() => loadConfig({ OPEN_RECORDS_TENANT: "alice" })).toThrow(/OPEN_RECORDS_TENANT/);
  });
});
