import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { base64Tensor, decodeBase64, randomMatrix, seeded } from "../helpers/tensors.js";

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

const post = (url: string, body: unknown) =>
  request(app.server)
    .post(url)
    .send(body as object);

const net = [
  {
    type: "affine",
    W: [
      [1, -1],
      [2, 0.5],
    ],
    b: [0, 1],
  },
  { type: "relu" },
  {
    type: "affine",
    W: [
      [1, 0, 2],
      [0, 1, -1],
    ],
    b: [0.5, 0, 0],
  },
  { type: "softmaxWithLoss" },
];

function softmax(row: number[]): number[] {
  const max = Math.max(...row);
  const e = row.map((v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe("POST /v1/networks/forward", () => {
  it("gives probabilities and the loss, worked by hand", async () => {
    const res = await post("/v1/networks/forward", {
      layers: net,
      x: [[1, 1]],
      t: [2],
      dtype: "float64",
    });
    expect(res.status).toBe(200);
    // h = relu([1+2, -1+0.5+1]) = [3, 0.5]; s = [3+0.5, 0.5, 6-0.5] = [3.5, 0.5, 5.5]
    const y = softmax([3.5, 0.5, 5.5]);
    for (const [i, v] of (res.body.out[0] as number[]).entries()) expect(v).toBeCloseTo(y[i], 12);
    expect(res.body.loss).toBeCloseTo(-Math.log(y[2] + 1e-7), 12);
  });

  it("answers in each encoding", async () => {
    const x = [
      [1, 1],
      [0.5, -2],
    ];
    const nested = await post("/v1/networks/forward", { layers: net, x });
    const flat = await post("/v1/networks/forward", {
      layers: net,
      x: { shape: [2, 2], data: x.flat() },
    });
    const b64 = await post("/v1/networks/forward", {
      layers: net,
      x: base64Tensor([2, 2], x.flat()),
    });
    expect(flat.body.out.data).toEqual(nested.body.out.flat());
    expect(decodeBase64(b64.body.out).map((v) => Math.fround(v))).toEqual(
      nested.body.out.flat().map((v: number) => Math.fround(v)),
    );
  });
  it("answers a large base64 request, lifted out of the JSON and moved to a worker, as nested", async () => {
    const random = seeded(11);
    const [W1, W2, x] = [
      randomMatrix(784, 16, random),
      randomMatrix(16, 10, random),
      randomMatrix(64, 784, random),
    ];
    const f32 = (rows: number[][]) => rows.map((row) => row.map(Math.fround));
    const layers = (W: (m: number[][]) => unknown) => [
      { type: "affine", W: W(W1), b: Array(16).fill(0.1) },
      { type: "relu" },
      { type: "affine", W: W(W2), b: Array(10).fill(0) },
      { type: "softmaxWithLoss" },
    ];
    const b64 = (m: number[][]) => base64Tensor([m.length, m[0].length], m.flat());
    const viaBase64 = await post("/v1/networks/forward", { layers: layers(b64), x: b64(x) });
    const nested = await post("/v1/networks/forward", { layers: layers(f32), x: f32(x) });
    expect(viaBase64.status).toBe(200);
    expect(b64(x).base64.length).toBeGreaterThan(1024);
    expect(decodeBase64(viaBase64.body.out)).toEqual(
      nested.body.out.flat().map((v: number) => Math.fround(v)),
    );
  });
  it("refuses a raw control character inside a long base64 value at that value", async () => {
    const x = base64Tensor(
      [2, 400],
      Array.from({ length: 800 }, (_, i) => i),
    );
    const text = JSON.stringify({ layers: [{ type: "relu" }], x }).replace("AAA", "A\tA");
    const res = await request(app.server)
      .post("/v1/networks/forward")
      .set("content-type", "application/json")
      .send(text);
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([
      { path: "x.base64", message: "is not valid base64 (RFC 4648, padded)" },
    ]);
  });
});

describe("POST /v1/networks/backward", () => {
  it("gives grads per layer, null for layers without parameters", async () => {
    const res = await post("/v1/networks/backward", { layers: net, x: [[1, 1]], t: [2] });
    expect(res.status).toBe(200);
    expect(res.body.grads.map((g: unknown) => g === null)).toEqual([false, true, false, true]);
    expect(res.body.dx).toHaveLength(1);
    expect(res.body.grads[0].W).toHaveLength(2);
    expect(typeof res.body.loss).toBe("number");
  });

  it("matches central differences of the loss the service reports", async () => {
    const random = seeded(7);
    const layers = [
      { type: "affine", W: randomMatrix(3, 4, random), b: [0.1, -0.1, 0.2, 0] },
      { type: "sigmoid" },
      { type: "affine", W: randomMatrix(4, 2, random), b: [0, 0] },
      { type: "softmaxWithLoss" },
    ];
    const x = randomMatrix(2, 3, random);
    const t = [1, 0];
    const body = { layers, x, t, dtype: "float64" };
    const res = await post("/v1/networks/backward", body);
    const lossAt = async (W: number[][]) => {
      const perturbed = structuredClone(layers);
      (perturbed[2] as { W: number[][] }).W = W;
      return (await post("/v1/networks/forward", { ...body, layers: perturbed })).body
        .loss as number;
    };
    const h = 1e-5;
    for (const [i, j] of [
      [0, 0],
      [3, 1],
      [2, 0],
    ]) {
      const plus = structuredClone(layers[2].W as number[][]);
      const minus = structuredClone(plus);
      plus[i][j] += h;
      minus[i][j] -= h;
      const numeric = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * h);
      // Backprop gives the gradient of -log(y); the reported loss is -log(y + 1e-7) (the book's
      // guard), so the two differ by about 1e-7 relative: that, not more, is the tolerance.
      expect(res.body.grads[2].W[i][j]).toBeCloseTo(numeric, 6);
    }
  });

  it("a network without a loss layer takes dout", async () => {
    const res = await post("/v1/networks/backward", {
      layers: [{ type: "relu" }, { type: "sigmoid" }],
      x: [[1, -1]],
      dout: [[1, 1]],
      dtype: "float64",
    });
    expect(res.status).toBe(200);
    const s = 1 / (1 + Math.exp(-1));
    expect(res.body.dx[0][0]).toBeCloseTo(s * (1 - s), 12);
    expect(res.body.dx[0][1]).toBe(0);
    expect(res.body.grads).toEqual([null, null]);
  });
});

describe("POST /v1/networks/gradient-check", () => {
  it("reports tiny differences per parameter in float64", async () => {
    const random = seeded(3);
    const res = await post("/v1/networks/gradient-check", {
      layers: [
        { type: "affine", W: randomMatrix(4, 5, random), b: randomMatrix(1, 5, random)[0] },
        { type: "sigmoid" },
        { type: "affine", W: randomMatrix(5, 3, random), b: [0, 0, 0] },
        { type: "softmaxWithLoss" },
      ],
      x: randomMatrix(3, 4, random),
      t: [0, 2, 1],
    });
    expect(res.status).toBe(200);
    expect(res.body.dtype).toBe("float64");
    expect(
      res.body.parameters.map((p: { layer: number; name: string }) => `${p.layer}${p.name}`),
    ).toEqual(["0W", "0b", "2W", "2b"]);
    // Differences of about 1e-7 stem from the loss's +1e-7 guard, which backprop leaves out.
    for (const p of res.body.parameters) {
      expect(p.maxAbsDiff).toBeLessThan(1e-6);
      expect(p.maxAbsDiff).toBeGreaterThan(0);
      expect(p.meanAbsDiff).toBeLessThanOrEqual(p.maxAbsDiff);
      expect(p.maxRelError).toBeLessThan(1e-4);
    }
  });

  it("is a 422 naming the layer, not a 500, when epsilon is lost next to the parameters", async () => {
    // 1e20 + 1e-4 === 1e20: the central difference would be 0/0.
    const res = await post("/v1/networks/gradient-check", {
      layers: [{ type: "affine", W: [[1e20, 0]], b: [1e20, 0] }, { type: "softmaxWithLoss" }],
      x: [1],
      t: [0],
    });
    expect(res.status).toBe(422);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ code: "NON_FINITE_RESULT", errors: [{ path: "layers[0]" }] });
    expect(res.body.detail).toMatch(/layer 0 \(affine\).*epsilon/);
  });
});
