import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { waitForJob } from "../helpers/jobs.js";
import { expectProblem } from "../helpers/problem.js";

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp({ MAX_MODEL_PARAMETERS: "10000" });
});
afterAll(async () => {
  await app.close();
});

const post = (url: string, body: unknown) =>
  request(app.server)
    .post(url)
    .send(body as object);
const paths = (res: request.Response) =>
  (res.body.errors as { path: string }[]).map((e) => e.path).sort();

const CLASSIFIER = [
  {
    type: "affine",
    W: [
      [1, 0],
      [0, 1],
      [1, 1],
    ],
    b: [0, 0],
  },
  { type: "softmaxWithLoss" },
];
const architecture = (over: Record<string, unknown> = {}) => ({
  inputSize: 3,
  hiddenSizes: [4],
  outputSize: 2,
  activation: "relu",
  weightInit: "he",
  ...over,
});
const base64Of = (values: number[], array: typeof Float32Array | typeof Float64Array) =>
  Buffer.from(array.from(values).buffer).toString("base64");

describe("body-less calls with content-type: application/json", () => {
  it("DELETE /v1/models/{id} with the header and no body deletes", async () => {
    const model = await post("/v1/models", { layers: CLASSIFIER });
    const res = await request(app.server)
      .delete(`/v1/models/${model.body.id}`)
      .set("content-type", "application/json");
    expect(res.status).toBe(204);
  });

  it("POST .../cancel with the header and no body reaches the job (404 for an unknown one)", async () => {
    const res = await request(app.server)
      .post("/v1/training-jobs/nope/cancel")
      .set("content-type", "application/json");
    expectProblem(res, 404, "NOT_FOUND");
  });
});

describe("errors name the field the caller sent", () => {
  it("one entry per mistake inside the {architecture} form of POST /v1/models", async () => {
    const res = await post("/v1/models", {
      seed: 1.5,
      architecture: architecture({ activation: "tanh", weightInit: "0.01" }),
    });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(paths(res)).toEqual(["architecture.activation", "architecture.weightInit", "seed"]);
    const byPath = Object.fromEntries(
      res.body.errors.map((e: { path: string; message: string }) => [e.path, e.message]),
    );
    expect(byPath["architecture.activation"]).toMatch(/relu.*sigmoid/);
    expect(byPath["architecture.weightInit"]).toMatch(/"he", "xavier", or the standard deviation/);
    expect(byPath.seed).toMatch(/int/);
  });

  it("the {layers} form's mistakes are its own, not the union's", async () => {
    const res = await post("/v1/models", { layers: [{ type: "affine", W: [[1]] }] });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(paths(res)).toContain("layers[0].b");
  });

  it("a body that is neither form says which two it may be", async () => {
    const res = await post("/v1/models", { name: "x" });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.detail).toMatch(/\{architecture.*\} or \{layers/);
  });

  it("query mistakes say query.limit and query.cursor", async () => {
    const limit = await request(app.server).get("/v1/models?limit=1000");
    expectProblem(limit, 400, "VALIDATION_FAILED");
    expect(paths(limit)).toEqual(["query.limit"]);
    const cursor = await request(app.server).get("/v1/training-jobs?cursor=bogus");
    expectProblem(cursor, 400, "VALIDATION_FAILED");
    expect(paths(cursor)).toEqual(["query.cursor"]);
  });

  it("a wrong-width x in predict is blamed on x", async () => {
    const model = await post("/v1/models", { layers: CLASSIFIER });
    const res = await post(`/v1/models/${model.body.id}/predict`, { x: [[1, 2]] });
    expectProblem(res, 400, "SHAPE_MISMATCH");
    expect(paths(res)).toEqual(["x"]);
    expect(res.body.detail).toMatch(/x does not fit: affine input has 2 features but W has 3 rows/);
  });

  it("[softmaxWithLoss, relu] says softmaxWithLoss must be last", async () => {
    const res = await post("/v1/networks/backward", {
      layers: [{ type: "softmaxWithLoss" }, { type: "relu" }],
      x: [[1, 2]],
      dout: [[1, 1]],
    });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.errors).toEqual([
      { path: "layers[0].type", message: expect.stringMatching(/must be the last layer/) },
    ]);
  });

  it('base64 "!!!!" is invalid base64, not a byte count', async () => {
    const res = await post("/v1/networks/forward", {
      layers: [{ type: "relu" }],
      x: { shape: [1], dtype: "float32", base64: "!!!!" },
    });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.errors).toEqual([
      {
        path: "x.base64",
        message: expect.stringMatching(/^is not valid base64: "!" at character 0/),
      },
    ]);
  });

  it("the 409 of a cancel says what happened and what is allowed", async () => {
    const job = await post("/v1/training-jobs", {
      model: { seed: 1, architecture: architecture() },
      data: {
        x: [
          [0, 0, 1],
          [1, 0, 0],
        ],
        t: [0, 1],
      },
      batchSize: 2,
      iterations: 2,
    });
    expect(job.status).toBe(202);
    const cancelled = await request(app.server).post(`/v1/training-jobs/${job.body.id}/cancel`);
    expect([202, 409]).toContain(cancelled.status);
    await waitForJob(app.server, job.body.id);
    const again = await request(app.server).post(`/v1/training-jobs/${job.body.id}/cancel`);
    expectProblem(again, 409, "ALREADY_FINISHED");
    expect(again.body.detail).toMatch(
      /^training job \S+ has already (been cancelled|succeeded); only a queued or running job can be cancelled$/,
    );
  });
});

describe("what cannot be meant is refused with a 400 naming the field", () => {
  const loss = (t: unknown) =>
    post("/v1/networks/forward", { layers: CLASSIFIER, x: [[1, 2, 3]], t });

  it("one-hot t outside [0, 1], or a row not summing to 1", async () => {
    const negative = await post("/v1/networks/forward", {
      layers: [{ type: "softmaxWithLoss" }],
      x: [[0.1, 0.2]],
      t: [[-3, 4]],
    });
    expectProblem(negative, 400, "SHAPE_MISMATCH");
    expect(paths(negative)).toEqual(["t"]);
    expect(negative.body.detail).toMatch(/one-hot values lie in \[0, 1\]/);
    const half = await loss([[0.5, 0.4]]);
    expectProblem(half, 400, "SHAPE_MISMATCH");
    expect(half.body.detail).toMatch(/sums to 0\.9.*must sum to 1/);
    // Soft labels that are a distribution are labels.
    expect((await loss([[0.25, 0.75]])).status).toBe(200);
  });

  it("dout beside t on a network ending in softmaxWithLoss", async () => {
    const res = await post("/v1/networks/backward", {
      layers: CLASSIFIER,
      x: [[1, 2, 3]],
      t: [0],
      dout: [[1, 1]],
    });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(paths(res)).toEqual(["dout"]);
  });

  it("outputSize 1 with softmax", async () => {
    const res = await post("/v1/models", { architecture: architecture({ outputSize: 1 }) });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(paths(res)).toEqual(["architecture.outputSize"]);
  });

  it("a model that is not a classifier: no final softmaxWithLoss, or no affine layer", async () => {
    const relu = await post("/v1/models", { layers: [{ type: "relu" }] });
    expectProblem(relu, 400, "VALIDATION_FAILED");
    expect(paths(relu)).toEqual(["layers", "layers[0]"]);
    const lossOnly = await post("/v1/models", { layers: [{ type: "softmaxWithLoss" }] });
    expect(paths(lossOnly)).toEqual(["layers"]);
  });

  it("a dataset limit past the split, in evaluate and in a training job", async () => {
    const model = await post("/v1/models", { layers: CLASSIFIER });
    const evaluate = await post(`/v1/models/${model.body.id}/evaluate`, {
      dataset: { name: "mnist", split: "test", limit: 10001 },
    });
    expectProblem(evaluate, 400, "VALIDATION_FAILED");
    expect(evaluate.body.errors).toEqual([
      {
        path: "dataset.limit",
        message: expect.stringMatching(/has 10000 samples; limit must be at most 10000/),
      },
    ]);
    const job = await post("/v1/training-jobs", {
      model: { architecture: architecture({ inputSize: 784, hiddenSizes: [], outputSize: 10 }) },
      data: { dataset: { name: "mnist", split: "test", limit: 20000 } },
      iterations: 1,
    });
    expectProblem(job, 400, "VALIDATION_FAILED");
    expect(paths(job)).toEqual(["data.dataset.limit"]);
  });

  it("batchSize larger than the training data", async () => {
    const res = await post("/v1/training-jobs", {
      model: { architecture: architecture() },
      data: {
        x: [
          [0, 0, 1],
          [1, 0, 0],
        ],
        t: [0, 1],
      },
      batchSize: 3,
      iterations: 1,
    });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.errors).toEqual([
      {
        path: "batchSize",
        message: expect.stringMatching(/holds 2 samples; batchSize must be at most 2/),
      },
    ]);
  });

  it("one-hot training labels that are not distributions", async () => {
    const res = await post("/v1/training-jobs", {
      model: { architecture: architecture() },
      data: {
        x: [
          [0, 0, 1],
          [1, 0, 0],
        ],
        t: [
          [1, 0],
          [-3, 4],
        ],
      },
      batchSize: 2,
      iterations: 1,
    });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(paths(res)).toEqual(["data.t"]);
  });

  it("a float64 base64 x is computed in float64 without dtype", async () => {
    // 1 + 2^-40 is exact in float64 and rounds to 1 in float32.
    const value = 1 + 2 ** -40;
    const res = await post("/v1/networks/forward", {
      layers: [{ type: "affine", W: [[1]], b: [0] }],
      x: { shape: [1, 1], dtype: "float64", base64: base64Of([value], Float64Array) },
    });
    expect(res.status).toBe(200);
    expect(res.body.out.dtype).toBe("float64");
    const out = new Float64Array(
      Uint8Array.from(Buffer.from(res.body.out.base64, "base64")).buffer,
    );
    expect(out[0]).toBe(value);
    // An explicit dtype is a conversion the caller asked for.
    const asked = await post("/v1/networks/forward", {
      layers: [{ type: "affine", W: [[1]], b: [0] }],
      x: { shape: [1, 1], dtype: "float64", base64: base64Of([value], Float64Array) },
      dtype: "float32",
    });
    expect(asked.body.out.dtype).toBe("float32");
  });

  it("a model or network over MAX_MODEL_PARAMETERS (10000 here)", async () => {
    const big = await post("/v1/models", {
      architecture: architecture({ inputSize: 100, hiddenSizes: [100], outputSize: 2 }),
    });
    expectProblem(big, 400, "VALIDATION_FAILED");
    // 100·100 + 100 + 100·2 + 2
    expect(big.body.errors).toEqual([
      {
        path: "architecture",
        message:
          "the model would hold 10302 parameters, over the limit of 10000 (MAX_MODEL_PARAMETERS)",
      },
    ]);
    const W = Array.from({ length: 100 }, () => Array(100).fill(0));
    const network = await post("/v1/networks/forward", {
      layers: [{ type: "affine", W, b: Array(100).fill(0) }],
      x: [Array(100).fill(0)],
    });
    expectProblem(network, 400, "VALIDATION_FAILED");
    expect(network.body.errors).toEqual([
      {
        path: "layers",
        message: "the layers hold 10100 parameters, over the limit of 10000 (MAX_MODEL_PARAMETERS)",
      },
    ]);
  });
});
