import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { mnistJob, parameterBits, twoLayerNet, waitForJob } from "../helpers/jobs.js";
import { describeWithPostgres, type PostgresServer, startPostgres } from "../helpers/postgres.js";

const forward = { layer: { type: "relu" }, x: [[0.5, -1]] };

describeWithPostgres("the service on PostgreSQL", () => {
  let postgres: PostgresServer | undefined;
  let app: FastifyInstance | undefined;

  beforeAll(async () => {
    postgres = await startPostgres();
    app = await testApp({ DATABASE_URL: await postgres.createDatabase() });
  }, 60_000);
  afterAll(async () => {
    await app?.close();
    await postgres?.destroy();
  });

  it("trains a job to the very bits the embedded store gives", async () => {
    const job = mnistJob({ iterations: 40, evaluateEvery: 20 });
    const embedded = await testApp();
    try {
      const results = await Promise.all(
        [app!, embedded].map(async (on) => {
          const res = await request(on.server).post("/v1/training-jobs").send(job);
          expect(res.status).toBe(202);
          const done = await waitForJob(on.server, res.body.id);
          expect(done.status).toBe("succeeded");
          return { done, bits: await parameterBits(on.server, done.resultModelId) };
        }),
      );
      const [onPostgres, onSqlite] = results;
      expect(onPostgres.done.history).toHaveLength(2);
      expect(onPostgres.done.history).toEqual(onSqlite.done.history);
      expect(onPostgres.bits).toBe(onSqlite.bits);
    } finally {
      await embedded.close();
    }
  });

  it("answers 503 STORE_UNAVAILABLE while PostgreSQL is down, keeps computing, and recovers", async () => {
    const server = app!.server;
    const created = await request(server).post("/v1/models").send(twoLayerNet());
    expect(created.status).toBe(201);
    expect((await request(server).get("/readyz")).status).toBe(200);

    await postgres!.stop();
    const ready = await request(server).get("/readyz");
    expect(ready.status).toBe(503);
    expect(ready.body.code).toBe("STORE_UNAVAILABLE");
    for (const res of [
      await request(server).get("/v1/models"),
      await request(server).get(`/v1/models/${created.body.id}`),
      await request(server).post("/v1/training-jobs").send(mnistJob()),
    ]) {
      expect(res.status).toBe(503);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(res.headers["retry-after"]).toBe("5");
      expect(res.body).toMatchObject({ status: 503, code: "STORE_UNAVAILABLE" });
      expect(res.body.detail).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);
    }
    const computed = await request(server).post("/v1/layers/forward").send(forward);
    expect(computed.status).toBe(200);
    expect(computed.body).toEqual({ out: [[0.5, 0]] });

    await postgres!.start();
    expect((await request(server).get("/readyz")).status).toBe(200);
    const listed = await request(server).get("/v1/models");
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((m: { id: string }) => m.id)).toContain(created.body.id);
    expect((await request(server).get(`/v1/models/${created.body.id}`)).status).toBe(200);
    expect((await request(server).post("/v1/layers/forward").send(forward)).status).toBe(200);
  });
});
