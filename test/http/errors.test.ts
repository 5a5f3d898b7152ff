import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { expectProblem } from "../helpers/problem.js";

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp({
    BODY_LIMIT_BYTES: "65536",
    MAX_TENSOR_ELEMENTS: "10000",
    MAX_TENSOR_RANK: "4",
  });
});
afterAll(() => app.close());
// After every bad request the service must still serve.
afterEach(async () => {
  const health = await request(app.server).get("/healthz");
  expect(health.status).toBe(200);
  const work = await request(app.server)
    .post("/v1/layers/forward")
    .send({ layer: { type: "relu" }, x: [[-1, 2]] });
  expect(work.body).toEqual({ out: [[0, 2]] });
});

const post = (url: string, body: unknown) =>
  request(app.server)
    .post(url)
    .send(body as object);

describe("validation errors", () => {
  it("list every bad field with its path", async () => {
    const res = await post("/v1/networks/forward", {
      layers: [{ type: "affine", W: [[1, 2], [3]], b: "nope" }, { type: "tanh" }],
      x: [[1, Number.NaN]],
    });
    expectProblem(res, 400, "VALIDATION_FAILED");
    const paths = res.body.errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(
      expect.arrayContaining(["layers[0].W[1]", "layers[0].b", "layers[1].type", "x[0][1]"]),
    );
  });

  it("reject unknown fields", async () => {
    const res = await post("/v1/layers/forward", { layer: { type: "relu" }, x: [1], extra: 1 });
    expectProblem(res, 400, "VALIDATION_FAILED");
  });

  it("reject a non-finite number with its path", async () => {
    const res = await request(app.server)
      .post("/v1/layers/forward")
      .set("content-type", "application/json")
      .send('{"layer":{"type":"relu"},"x":[[1, 1e999]]}');
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.errors).toEqual([
      { path: "x[0][1]", message: expect.stringContaining("finite") },
    ]);
  });

  it("reject a tiny body claiming a huge shape before allocating it", async () => {
    const started = performance.now();
    const res = await post("/v1/networks/forward", {
      layers: [{ type: "affine", W: { shape: [1000000, 1000000], data: [1] }, b: [1] }],
      x: [[1]],
    });
    expect(performance.now() - started).toBeLessThan(1000);
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.errors[0].path).toBe("layers[0].W.shape");
    expect(res.body.errors[0].message).toMatch(/limit of 10000/);
  });

  it("reject nesting deeper than the rank limit", async () => {
    const res = await post("/v1/layers/forward", { layer: { type: "relu" }, x: [[[[[1]]]]] });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.errors[0].path).toBe("x");
  });

  it("reject bad base64 and a wrong byte count", async () => {
    const bad = await post("/v1/layers/forward", {
      layer: { type: "relu" },
      x: { shape: [2], dtype: "float32", base64: "!!!!" },
    });
    expectProblem(bad, 400, "VALIDATION_FAILED");
    expect(bad.body.errors[0].path).toBe("x.base64");
    const short = await post("/v1/layers/forward", {
      layer: { type: "relu" },
      x: { shape: [2], dtype: "float32", base64: "AAAAAA==" },
    });
    expect(short.body.errors[0]).toEqual({
      path: "x.base64",
      message: expect.stringMatching(/4 bytes .* needs 8/),
    });
  });

  it("reject base64 that decodes to a non-finite value, naming the element", async () => {
    const values = Buffer.from(new Float32Array([1, Number.NaN, 3]).buffer).toString("base64");
    const res = await post("/v1/layers/forward", {
      layer: { type: "relu" },
      x: { shape: [3], dtype: "float32", base64: values },
    });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.errors[0]).toEqual({
      path: "x.base64",
      message: "element 1 is NaN, not a finite number",
    });
  });

  it("name base64 parameters by the request's own field: layer.W, layers[i].b", async () => {
    const W = { shape: [1, 1], dtype: "float64", base64: "????????????" };
    const b = { shape: [1], dtype: "float64", base64: Buffer.alloc(8).toString("base64") };
    const single = await post("/v1/layers/forward", { layer: { type: "affine", W, b }, x: [[1]] });
    expectProblem(single, 400, "VALIDATION_FAILED");
    expect(single.body.errors[0].path).toBe("layer.W.base64");
    const inf = {
      ...b,
      base64: Buffer.from(new Float64Array([Infinity]).buffer).toString("base64"),
    };
    const network = await post("/v1/networks/forward", {
      layers: [{ type: "relu" }, { type: "affine", W: [[1]], b: inf }],
      x: [[1]],
    });
    expectProblem(network, 400, "VALIDATION_FAILED");
    expect(network.body.errors[0]).toEqual({
      path: "layers[1].b.base64",
      message: "element 0 is Infinity, not a finite number",
    });
  });

  it("reject a flat tensor whose data does not fill its shape", async () => {
    const res = await post("/v1/layers/forward", {
      layer: { type: "relu" },
      x: { shape: [2, 2], data: [1, 2, 3] },
    });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.errors[0].path).toBe("x.data");
  });
});

describe("shape errors", () => {
  it("name the layer index and both shapes", async () => {
    const res = await post("/v1/networks/forward", {
      layers: [
        {
          type: "affine",
          W: [
            [1, 2, 3],
            [4, 5, 6],
          ],
          b: [0, 0, 0],
        },
        { type: "relu" },
        { type: "affine", W: [[1], [2]], b: [0] },
      ],
      x: [[1, 2]],
    });
    expectProblem(res, 400, "SHAPE_MISMATCH");
    expect(res.body.detail).toMatch(/layer 2/);
    expect(res.body.detail).toMatch(/3/);
    expect(res.body.detail).toMatch(/\[2, 1\]/);
    expect(res.body.errors[0].path).toMatch(/^layers\[2\]/);
  });

  it("catch a bias that does not fit its weights", async () => {
    const res = await post("/v1/layers/forward", {
      layer: { type: "affine", W: [[1, 2]], b: [1, 2, 3] },
      x: [[1]],
    });
    expectProblem(res, 400, "SHAPE_MISMATCH");
    expect(res.body.errors[0].path).toBe("layers[0].b");
  });

  it("catch labels that do not fit the scores", async () => {
    const res = await post("/v1/layers/forward", {
      layer: { type: "softmaxWithLoss" },
      x: [[1, 2]],
      t: [[1, 0, 0]],
    });
    expectProblem(res, 400, "SHAPE_MISMATCH");
    expect(res.body.errors[0].path).toBe("t");
  });

  it("catch a label index out of range", async () => {
    const res = await post("/v1/layers/forward", {
      layer: { type: "softmaxWithLoss" },
      x: [[1, 2]],
      t: [2],
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe("t");
  });
});

describe("protocol errors", () => {
  it("unknown routes are 404 problems", async () => {
    expectProblem(await request(app.server).get("/v1/nothing"), 404, "NOT_FOUND");
  });

  it("a path that does not percent-decode is a 400 problem, before any route", async () => {
    for (const url of ["/v1/models/%ZZ", "/v1/training-jobs/%/cancel", "/v1/models/%E0%A4%A"]) {
      expectProblem(await request(app.server).get(url), 400, "BAD_URL");
    }
  });

  it("an id longer than the router takes is a 414 problem", async () => {
    const res = await request(app.server).get(`/v1/models/${"x".repeat(101)}`);
    expectProblem(res, 414, "URI_TOO_LONG");
  });

  it("a wrong content type is 415", async () => {
    const res = await request(app.server)
      .post("/v1/layers/forward")
      .set("content-type", "text/plain")
      .send("x");
    expectProblem(res, 415, "UNSUPPORTED_MEDIA_TYPE");
  });

  it("malformed JSON is 400", async () => {
    const res = await request(app.server)
      .post("/v1/layers/forward")
      .set("content-type", "application/json")
      .send('{"layer":');
    expectProblem(res, 400, "INVALID_JSON");
  });

  it("__proto__ keys are refused", async () => {
    const res = await request(app.server)
      .post("/v1/layers/forward")
      .set("content-type", "application/json")
      .send('{"layer":{"type":"relu"},"x":[1],"__proto__":{"polluted":true}}');
    expect(res.status).toBe(400);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("a body over the limit is 413", async () => {
    const x = Array.from({ length: 20000 }, () => 0.5);
    expectProblem(
      await post("/v1/layers/forward", { layer: { type: "relu" }, x }),
      413,
      "PAYLOAD_TOO_LARGE",
    );
  });
});

describe("overflow", () => {
  it("a computation that overflows names the layer", async () => {
    const res = await post("/v1/networks/forward", {
      layers: [
        { type: "affine", W: [[1e38, 1e38]], b: [0, 0] },
        { type: "affine", W: [[1e38], [1e38]], b: [0] },
      ],
      x: [[10]],
    });
    expectProblem(res, 422, "NON_FINITE_RESULT");
    expect(res.body.detail).toMatch(/layer 0|layer 1/);
  });
});
