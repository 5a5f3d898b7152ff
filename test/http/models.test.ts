import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mnistDataDir } from "../../src/datasets/mnist.js";
import { testApp } from "../helpers/app.js";
import { twoLayerNet } from "../helpers/jobs.js";
import { expectProblem } from "../helpers/problem.js";
import { tempDir } from "../helpers/temp.js";

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp({ DATA_DIR: tempDir() });
});
afterAll(() => app.close());

/** The smallest model: one affine into a softmax over two classes. */
const CLASSIFIER = [{ type: "affine", W: [[1, 0]], b: [0, 0] }, { type: "softmaxWithLoss" }];

const post = (url: string, body: unknown) =>
  request(app.server)
    .post(url)
    .send(body as object);

function std(values: number[]): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
}

describe("POST /v1/models from an architecture", () => {
  it("answers 201 with a Location and the summary", async () => {
    const res = await post("/v1/models", { name: "tln", ...twoLayerNet() });
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(`/v1/models/${res.body.id}`);
    expect(res.body).toMatchObject({
      name: "tln",
      dtype: "float32",
      inputSize: 784,
      outputSize: 10,
      parameterCount: 784 * 50 + 50 + 50 * 10 + 10,
      origin: { kind: "architecture", seed: 1 },
      layers: [
        { type: "affine", W: { shape: [784, 50] }, b: { shape: [50] } },
        { type: "relu" },
        { type: "affine", W: { shape: [50, 10] }, b: { shape: [10] } },
        { type: "softmaxWithLoss" },
      ],
    });
  });

  it("reads UTF-8 bodies as UTF-8 (ASCII ones take a faster path)", async () => {
    const name = "Ω-net ✓ 学习";
    const res = await request(app.server)
      .post("/v1/models")
      .set("content-type", "application/json; charset=utf-8")
      .send(JSON.stringify({ name, ...twoLayerNet() }));
    expect(res.status).toBe(201);
    expect(res.body.name).toBe(name);
    const read = await request(app.server).get(`/v1/models/${res.body.id}`);
    expect(read.body.name).toBe(name);
  });

  it("initialises as the book: He std sqrt(2/fan_in), Xavier sqrt(1/fan_in), a number as the std, zero biases", async () => {
    for (const [init, expected] of [
      ["he", Math.sqrt(2 / 784)],
      ["xavier", Math.sqrt(1 / 784)],
      [0.01, 0.01],
    ] as const) {
      const model = await post("/v1/models", twoLayerNet(init));
      const params = await request(app.server).get(`/v1/models/${model.body.id}/parameters`);
      const W = params.body.layers[0].W.flat() as number[];
      expect(std(W)).toBeGreaterThan(expected * 0.97);
      expect(std(W)).toBeLessThan(expected * 1.03);
      expect(params.body.layers[0].b.every((v: number) => v === 0)).toBe(true);
    }
  });

  it("gives the same bits for the same seed and others for another", async () => {
    const bits = async (seed: number) => {
      const model = await post("/v1/models", twoLayerNet("he", seed));
      return (
        await request(app.server).get(`/v1/models/${model.body.id}/parameters?encoding=base64`)
      ).body;
    };
    expect(await bits(5)).toEqual(await bits(5));
    expect(await bits(5)).not.toEqual(await bits(6));
  });

  it("rejects an architecture over the tensor limit", async () => {
    const res = await post("/v1/models", {
      architecture: {
        inputSize: 100000,
        hiddenSizes: [1000],
        outputSize: 10,
        activation: "relu",
        weightInit: "he",
      },
    });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].path).toBe("architecture.hiddenSizes[0]");
  });
});

describe("models from layers, export and reuse", () => {
  const layers = [
    {
      type: "affine",
      W: [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ],
      b: [0, 0, 0],
    },
    { type: "softmaxWithLoss" },
  ];

  it("exports parameters that POST /v1/models and /v1/networks/* accept as is", async () => {
    const created = await post("/v1/models", { layers, dtype: "float64" });
    expect(created.status).toBe(201);
    expect(created.body.origin).toEqual({ kind: "layers" });
    for (const encoding of ["nested", "flat", "base64"]) {
      const exported = await request(app.server).get(
        `/v1/models/${created.body.id}/parameters?encoding=${encoding}`,
      );
      expect(exported.body.dtype).toBe("float64");
      const again = await post("/v1/models", exported.body);
      expect(again.status).toBe(201);
      const forward = await post("/v1/networks/forward", { ...exported.body, x: [[1, 3, 2]] });
      expect(forward.status).toBe(200);
      expect(forward.body.out[0][1]).toBeGreaterThan(forward.body.out[0][2]);
    }
  });

  it("predicts probabilities and argmax labels; a 1-D x is one sample", async () => {
    const model = (await post("/v1/models", { layers })).body;
    const res = await post(`/v1/models/${model.id}/predict`, {
      x: [
        [1, 3, 2],
        [5, 0, 0],
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.labels).toEqual([1, 0]);
    const e = [Math.exp(1 - 3), 1, Math.exp(2 - 3)];
    const sum = e[0] + e[1] + e[2];
    for (const [i, p] of (res.body.probabilities[0] as number[]).entries()) {
      expect(p).toBeCloseTo(e[i] / sum, 6);
    }
    const one = await post(`/v1/models/${model.id}/predict`, { x: [0, 0, 9] });
    expect(one.body.labels).toBe(2);
    expect(one.body.probabilities).toHaveLength(3);
  });

  it("evaluates loss and accuracy on inline data, by hand", async () => {
    const model = (await post("/v1/models", { layers, dtype: "float64" })).body;
    const res = await post(`/v1/models/${model.id}/evaluate`, {
      x: [
        [0, 0, 0],
        [0, 0, 0],
      ],
      t: [0, 1],
    });
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(2);
    expect(res.body.loss).toBeCloseTo(-Math.log(1 / 3 + 1e-7), 10);
    // Ties go to the first class: sample 0 right, sample 1 wrong.
    expect(res.body.accuracy).toBe(0.5);
  });

  it("reads the one-hot t of a single 1-D sample as one-hot, as predict does", async () => {
    const model = (await post("/v1/models", { layers, dtype: "float64" })).body;
    const oneHot = await post(`/v1/models/${model.id}/evaluate`, { x: [0, 0, 9], t: [0, 0, 1] });
    const index = await post(`/v1/models/${model.id}/evaluate`, { x: [0, 0, 9], t: [2] });
    expect(oneHot.status).toBe(200);
    expect(oneHot.body).toEqual(index.body);
    expect(oneHot.body).toMatchObject({ accuracy: 1, count: 1 });
  });

  it("evaluates on a built-in dataset", async () => {
    const model = (await post("/v1/models", twoLayerNet())).body;
    const res = await post(`/v1/models/${model.id}/evaluate`, {
      dataset: { name: "mnist", split: "test", limit: 200 },
    });
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(200);
    expect(res.body.loss).toBeGreaterThan(1.5);
  });

  it("evaluates a dataset's rows as it would the same rows sent inline", async () => {
    const model = (await post("/v1/models", twoLayerNet())).body;
    // Samples 0..29 of the test split, straight from the IDX files: pixels / 255 in float32.
    const dir = mnistDataDir();
    const pixels = readFileSync(join(dir, "t10k-images-idx3-ubyte")).subarray(16);
    const labels = readFileSync(join(dir, "t10k-labels-idx1-ubyte")).subarray(8);
    const x = Array.from({ length: 30 }, (_, i) =>
      Array.from(pixels.subarray(i * 784, (i + 1) * 784), (p) => Math.fround(p / 255)),
    );
    const inline = await post(`/v1/models/${model.id}/evaluate`, {
      x,
      t: Array.from(labels.subarray(0, 30)),
    });
    const dataset = await post(`/v1/models/${model.id}/evaluate`, {
      dataset: { name: "mnist", split: "test", limit: 30 },
    });
    expect(inline.status).toBe(200);
    expect(dataset.body).toEqual(inline.body);
  });

  it("names an unknown dataset in a 400", async () => {
    const model = (await post("/v1/models", twoLayerNet())).body;
    const res = await post(`/v1/models/${model.id}/evaluate`, {
      dataset: { name: "cifar", split: "test" },
    });
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.errors).toEqual([
      { path: "dataset.name", message: 'unknown dataset "cifar"; known: mnist' },
    ]);
  });

  it("answers 400 for x of the wrong size and 404 for unknown models", async () => {
    const model = (await post("/v1/models", { layers })).body;
    const bad = await post(`/v1/models/${model.id}/predict`, { x: [[1, 2]] });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("SHAPE_MISMATCH");
    expect((await post("/v1/models/nope/predict", { x: [[1, 2, 3]] })).status).toBe(404);
    expect((await request(app.server).get("/v1/models/nope")).body.code).toBe("NOT_FOUND");
  });
});

describe("listing and deleting", () => {
  it("lists newest first, page by page", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await post("/v1/models", { name: `m${i}`, layers: CLASSIFIER })).body.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await request(app.server)
        .get("/v1/models")
        .query(cursor ? { limit: 2, cursor } : { limit: 2 });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((m: { id: string }) => m.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.slice(0, 5)).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("deletes with 204, then 404", async () => {
    const model = (await post("/v1/models", { layers: CLASSIFIER })).body;
    expect((await request(app.server).delete(`/v1/models/${model.id}`)).status).toBe(204);
    expect((await request(app.server).get(`/v1/models/${model.id}`)).status).toBe(404);
    expect((await request(app.server).delete(`/v1/models/${model.id}`)).status).toBe(404);
  });

  it("rejects a bad cursor with 400", async () => {
    const res = await request(app.server).get("/v1/models?cursor=garbage");
    expect(res.status).toBe(400);
  });
});

describe("GET /v1/datasets", () => {
  it("lists mnist with its splits", async () => {
    const res = await request(app.server).get("/v1/datasets");
    expect(res.body.items).toEqual([
      expect.objectContaining({
        name: "mnist",
        inputSize: 784,
        classes: 10,
        splits: { train: 60000, test: 10000 },
      }),
    ]);
  });
});
