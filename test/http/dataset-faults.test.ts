import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { testApp } from "../helpers/app.js";
import { mnistJob, twoLayerNet, waitForJob } from "../helpers/jobs.js";
import { expectProblem } from "../helpers/problem.js";

// MNIST's files unreadable, as readMnist reports a missing one: a broken installation.
vi.mock("../../src/datasets/mnist.js", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../src/datasets/mnist.js")>()),
  loadMnist: () =>
    Promise.reject(
      new Error("train-images-idx3-ubyte: cannot read /opt/mnist/train-images-idx3-ubyte: ENOENT"),
    ),
}));

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

describe("a built-in dataset that cannot be read", () => {
  it("fails the training job saying so, not as a crashed worker, and without server paths", async () => {
    const created = await request(app.server).post("/v1/training-jobs").send(mnistJob());
    expect(created.status).toBe(202);
    const ended = await waitForJob(app.server, created.body.id);
    expect(ended.status).toBe("failed");
    expect(ended.error).toEqual({
      message: "the job's dataset could not be read; the server log has the cause",
    });
  });

  it("answers an evaluation with a 500 that hides the path, and keeps serving", async () => {
    const model = (await request(app.server).post("/v1/models").send(twoLayerNet())).body;
    const res = await request(app.server)
      .post(`/v1/models/${model.id}/evaluate`)
      .send({ dataset: { name: "mnist", split: "test" } });
    expectProblem(res, 500, "INTERNAL");
    expect(res.text).not.toContain("/opt/mnist");
    expect((await request(app.server).get("/healthz")).status).toBe(200);
  });
});
