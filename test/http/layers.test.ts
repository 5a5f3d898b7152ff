import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { base64Tensor, decodeBase64 } from "../helpers/tensors.js";

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

const post = (url: string, body: unknown) =>
  request(app.server)
    .post(url)
    .send(body as object);

describe("POST /v1/layers/forward", () => {
  it("relu in nested form answers nested, without float32 noise", async () => {
    const res = await post("/v1/layers/forward", {
      layer: { type: "relu" },
      x: [
        [0.1, -0.2],
        [0, 0.3],
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      out: [
        [0.1, 0],
        [0, 0.3],
      ],
    });
    expect(res.text).not.toContain("0.10000000149");
  });

  it("float64 keeps every digit", async () => {
    const res = await post("/v1/layers/forward", {
      layer: { type: "relu" },
      x: [0.1 + 0.2],
      dtype: "float64",
    });
    expect(res.body.out).toEqual([0.30000000000000004]);
  });

  it("sigmoid in flat form answers flat", async () => {
    const res = await post("/v1/layers/forward", {
      layer: { type: "sigmoid" },
      x: { shape: [3], data: [0, 1000, -1000] },
      dtype: "float64",
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ out: { shape: [3], data: [0.5, 1, 0] } });
  });

  it("affine in base64 answers base64 (x·W + b, worked by hand)", async () => {
    const res = await post("/v1/layers/forward", {
      layer: {
        type: "affine",
        W: [
          [1, 2],
          [3, 4],
          [5, 6],
        ],
        b: [0.5, -1],
      },
      x: base64Tensor([1, 3], [1, 0, -1]),
    });
    expect(res.status).toBe(200);
    expect(res.body.out.shape).toEqual([1, 2]);
    expect(res.body.out.dtype).toBe("float32");
    // [1, 0, -1]·W = [1 - 5, 2 - 6] = [-4, -4]; + b = [-3.5, -5]
    expect(decodeBase64(res.body.out)).toEqual([-3.5, -5]);
  });

  it("a 1-D x to affine is one sample and the answer drops the batch axis", async () => {
    const res = await post("/v1/layers/forward", {
      layer: {
        type: "affine",
        W: [
          [1, 2],
          [3, 4],
        ],
        b: [0, 0],
      },
      x: [1, 1],
    });
    expect(res.body.out).toEqual([4, 6]);
  });

  it("outputEncoding overrides the form of x", async () => {
    const res = await post("/v1/layers/forward", {
      layer: { type: "relu" },
      x: [[1, -1]],
      outputEncoding: "flat",
    });
    expect(res.body.out).toEqual({ shape: [1, 2], data: [1, 0] });
  });

  it("softmaxWithLoss gives probabilities and, with t, the loss", async () => {
    const res = await post("/v1/layers/forward", {
      layer: { type: "softmaxWithLoss" },
      x: [[0, 0]],
      t: [1],
      dtype: "float64",
    });
    expect(res.body.out).toEqual([[0.5, 0.5]]);
    // -log(0.5 + 1e-7)
    expect(res.body.loss).toBeCloseTo(-Math.log(0.5 + 1e-7), 12);
  });
});

describe("POST /v1/layers/backward", () => {
  it("relu masks x <= 0 and leaves dout alone elsewhere", async () => {
    const res = await post("/v1/layers/backward", {
      layer: { type: "relu" },
      x: [[1, 0, -2]],
      dout: [[5, 6, 7]],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ out: [[1, 0, 0]], dx: [[5, 0, 0]] });
  });

  it("affine gives dx = dout·Wᵀ, dW = xᵀ·dout, db = Σ dout", async () => {
    const res = await post("/v1/layers/backward", {
      layer: {
        type: "affine",
        W: [
          [1, 2],
          [3, 4],
        ],
        b: [0, 0],
      },
      x: { shape: [2, 2], data: [1, 2, 3, 4] },
      dout: { shape: [2, 2], data: [1, 0, 0, 1] },
    });
    expect(res.status).toBe(200);
    expect(res.body.dx).toEqual({ shape: [2, 2], data: [1, 3, 2, 4] });
    expect(res.body.grads.W).toEqual({ shape: [2, 2], data: [1, 3, 2, 4] });
    expect(res.body.grads.b).toEqual({ shape: [2], data: [1, 1] });
  });

  it("softmaxWithLoss backward is dout·(y - t)/N with a scalar dout", async () => {
    const res = await post("/v1/layers/backward", {
      layer: { type: "softmaxWithLoss" },
      x: [
        [0, 0],
        [0, 0],
      ],
      t: [
        [1, 0],
        [0, 1],
      ],
      dout: 2,
      dtype: "float64",
    });
    expect(res.status).toBe(200);
    // y = 0.5 everywhere; 2·(0.5 - 1)/2 = -0.5, 2·(0.5 - 0)/2 = 0.5
    expect(res.body.dx).toEqual([
      [-0.5, 0.5],
      [0.5, -0.5],
    ]);
  });

  it("relu without dout is a 400 naming the field", async () => {
    const res = await post("/v1/layers/backward", { layer: { type: "relu" }, x: [[1]] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("VALIDATION_FAILED");
    expect(res.body.errors).toEqual([{ path: "dout", message: expect.any(String) }]);
  });
});
