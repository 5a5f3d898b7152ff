import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { base64Tensor, decodeBase64, randomMatrix, seeded } from "../helpers/tensors.js";

/**
 * Base64 answers of the passes are encoded by the worker into bytes and sent as bytes, and base64
 * requests decoded from bytes (src/http/json-bytes.ts, src/wire/base64-wasm.ts): checked against
 * products computed here in float64, on the default kernels (openblas where it loads, whose
 * tensors lie on the heap) and on a WebAssembly path (tensors in the arena).
 */

/** x·W + b, row by row, in float64. */
function affine(x: number[][], W: number[][], b: number[]): number[][] {
  return x.map((row) => b.map((bj, j) => row.reduce((sum, v, p) => sum + v * W[p][j], bj)));
}

const transpose = (m: number[][]) => m[0].map((_, j) => m.map((row) => row[j]));

function expectClose(actual: number[], expected: number[][], tolerance: number) {
  const flat = expected.flat();
  expect(actual).toHaveLength(flat.length);
  const worst = Math.max(...flat.map((v, i) => Math.abs(actual[i] - v) / (1 + Math.abs(v))));
  expect(worst).toBeLessThan(tolerance);
}

// Sizes whose answers span several chunks of the encoder and end in base64 padding.
const random = seeded(16);
const x = randomMatrix(130, 301, random);
const W = randomMatrix(301, 203, random);
const b = Array.from({ length: 203 }, () => random() - 0.5);
const dout = randomMatrix(130, 203, random);

for (const kernels of ["default", "simd"]) {
  describe(`base64 answers written as bytes (${kernels} kernels)`, () => {
    let app: FastifyInstance;
    beforeAll(async () => {
      app = await testApp(kernels === "default" ? {} : { KERNELS: kernels });
    });
    afterAll(() => app.close());

    const post = (url: string, body: object) => request(app.server).post(url).send(body);
    const tensor = (m: number[][] | number[], dtype: "float32" | "float64") =>
      Array.isArray(m[0])
        ? base64Tensor([m.length, (m[0] as number[]).length], (m as number[][]).flat(), dtype)
        : base64Tensor([m.length], m as number[], dtype);

    for (const [dtype, tolerance] of [
      ["float32", 1e-5],
      ["float64", 1e-12],
    ] as const) {
      it(`forward: x·W + b in ${dtype}, as a JSON answer of exactly its fields`, async () => {
        const res = await post("/v1/networks/forward", {
          layers: [{ type: "affine", W: tensor(W, dtype), b: tensor(b, dtype) }],
          x: tensor(x, dtype),
        });
        expect(res.status).toBe(200);
        expect(res.headers["content-type"]).toBe("application/json; charset=utf-8");
        expect(Object.keys(res.body)).toEqual(["out"]);
        expect(Object.keys(res.body.out)).toEqual(["shape", "dtype", "base64"]);
        expect(res.body.out.shape).toEqual([130, 203]);
        expect(res.body.out.dtype).toBe(dtype);
        expect(res.body.out.base64.length).toBe(
          Math.ceil((130 * 203 * (dtype === "float32" ? 4 : 8)) / 3) * 4,
        );
        expectClose(decodeBase64(res.body.out), affine(x, W, b), tolerance);
      });

      it(`backward without a loss: dx = dout·Wᵀ, dW = xᵀ·dout, db = Σ dout in ${dtype}`, async () => {
        const res = await post("/v1/networks/backward", {
          layers: [{ type: "affine", W: tensor(W, dtype), b: tensor(b, dtype) }],
          x: tensor(x, dtype),
          dout: tensor(dout, dtype),
        });
        expect(res.status).toBe(200);
        expect(Object.keys(res.body)).toEqual(["out", "dx", "grads"]);
        expectClose(decodeBase64(res.body.out), affine(x, W, b), tolerance);
        const zeros = (n: number) => Array<number>(n).fill(0);
        expectClose(decodeBase64(res.body.dx), affine(dout, transpose(W), zeros(301)), tolerance);
        const [grad] = res.body.grads;
        expectClose(decodeBase64(grad.W), affine(transpose(x), dout, zeros(203)), tolerance);
        const db = transpose(dout).map((column) => column.reduce((s, v) => s + v, 0));
        expectClose(decodeBase64(grad.b), [db], tolerance);
      });
    }

    it("answers the loss beside base64 probabilities, and nested when asked", async () => {
      const layers = [
        {
          type: "affine",
          W: [
            [1, -1],
            [2, 0.5],
          ],
          b: [0, 1],
        },
        { type: "softmaxWithLoss" },
      ];
      const body = { layers, x: tensor([[1, 1]], "float64"), t: [0] };
      const res = await post("/v1/networks/forward", body);
      expect(Object.keys(res.body)).toEqual(["out", "loss"]);
      // scores [3, 0.5]: p0 = 1 / (1 + e^-2.5)
      const p0 = 1 / (1 + Math.exp(-2.5));
      expectClose(decodeBase64(res.body.out), [[p0, 1 - p0]], 1e-12);
      expect(res.body.loss).toBeCloseTo(-Math.log(p0 + 1e-7), 12);
      const nested = await post("/v1/networks/forward", { ...body, outputEncoding: "nested" });
      expect(nested.body.out[0][0]).toBeCloseTo(p0, 12);
    });

    it("still names a bad base64 field of the request", async () => {
      const bad = tensor(x, "float32");
      bad.base64 = `${bad.base64.slice(0, 70_000)}*${bad.base64.slice(70_001)}`;
      const res = await post("/v1/networks/forward", {
        layers: [{ type: "affine", W: tensor(W, "float32"), b: tensor(b, "float32") }],
        x: bad,
      });
      expect(res.status).toBe(400);
      expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
      expect(res.body.errors).toEqual([
        { path: "x.base64", message: "is not valid base64 (RFC 4648, padded)" },
      ]);
    });
  });
}
