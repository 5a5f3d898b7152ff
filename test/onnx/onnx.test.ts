import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { FastifyInstance } from "fastify";
import {
  AttributeProto_AttributeType,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  TensorProto_DataType,
} from "onnx-buf";
import * as ort from "onnxruntime-node";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { expectProblem } from "../helpers/problem.js";
import { randomMatrix, seeded } from "../helpers/tensors.js";

let app: FastifyInstance;
beforeAll(async () => {
  app = await testApp();
});
afterAll(() => app.close());

async function createModel(body: Record<string, unknown>): Promise<string> {
  const res = await request(app.server).post("/v1/models").send(body);
  expect(res.status).toBe(201);
  return res.body.id;
}

async function exported(id: string) {
  const res = await request(app.server)
    .get(`/v1/models/${id}/onnx`)
    .buffer(true)
    .parse((response, callback) => {
      const chunks: Buffer[] = [];
      response.on("data", (c: Buffer) => chunks.push(c));
      response.on("end", () => callback(null, Buffer.concat(chunks)));
    });
  expect(res.status).toBe(200);
  return res;
}

async function predict(id: string, x: number[][]) {
  const res = await request(app.server).post(`/v1/models/${id}/predict`).send({ x });
  expect(res.status).toBe(200);
  return res.body.probabilities as number[][];
}

async function runOrt(file: Uint8Array, x: number[][], dtype: "float32" | "float64" = "float32") {
  const session = await ort.InferenceSession.create(file);
  const data = dtype === "float32" ? Float32Array.from(x.flat()) : Float64Array.from(x.flat());
  const feeds = { [session.inputNames[0]]: new ort.Tensor(dtype, data, [x.length, x[0].length]) };
  const out = await session.run(feeds);
  return Array.from(out[session.outputNames[0]].data as Float32Array);
}

const importOnnx = (file: Uint8Array, query = "") =>
  request(app.server)
    .post(`/v1/models${query}`)
    .set("content-type", "application/onnx")
    .send(Buffer.from(file));

async function parameters(id: string) {
  const res = await request(app.server).get(`/v1/models/${id}/parameters?encoding=base64`);
  return res.body;
}

describe("GET /v1/models/{id}/onnx", () => {
  it("is a ModelProto of IR 8, opset 13, with a symbolic batch, as an attachment", async () => {
    const id = await createModel({
      name: "two layer/net",
      seed: 1,
      architecture: {
        inputSize: 5,
        hiddenSizes: [4],
        outputSize: 3,
        activation: "relu",
        weightInit: "he",
      },
    });
    const res = await exported(id);
    expect(res.headers["content-disposition"]).toBe('attachment; filename="two_layer_net.onnx"');
    const model = fromBinary(ModelProtoSchema, res.body);
    expect(model.irVersion).toBe(8n);
    expect(model.opsetImport.map((o) => [o.domain, o.version])).toEqual([["", 13n]]);
    const graph = model.graph!;
    expect(graph.node.map((n) => n.opType)).toEqual(["Gemm", "Relu", "Gemm", "Softmax"]);
    expect(graph.node[3].attribute[0]).toMatchObject({ name: "axis", i: -1n });
    const dims = (v: (typeof graph.input)[0]) =>
      v.type?.value.case === "tensorType"
        ? v.type.value.value.shape?.dim.map((d) => d.value.value)
        : null;
    expect(graph.input.map((v) => [v.name, dims(v)])).toEqual([["x", ["N", 5n]]]);
    expect(graph.output.map((v) => [v.name, dims(v)])).toEqual([["probabilities", ["N", 3n]]]);
    expect(graph.initializer.every((t) => t.rawData.length > 0 && t.floatData.length === 0)).toBe(
      true,
    );
    expect((await request(app.server).get("/v1/models/nope/onnx")).status).toBe(404);
  });

  for (const activation of ["relu", "sigmoid"] as const) {
    for (const hidden of [1, 2, 3]) {
      it(`runs in ONNX Runtime as predict does: ${activation}, ${hidden} hidden layers, batch 1 and 7`, async () => {
        const random = seeded(hidden * 10 + activation.length);
        const hiddenSizes = Array.from({ length: hidden }, (_, i) => 3 + ((i * 5) % 7));
        const id = await createModel({
          seed: hidden,
          architecture: {
            inputSize: 9,
            hiddenSizes,
            outputSize: 4,
            activation,
            weightInit: "xavier",
          },
        });
        const file = (await exported(id)).body;
        for (const batch of [1, 7]) {
          const x = randomMatrix(batch, 9, random, 2);
          const expected = (await predict(id, x)).flat();
          const got = await runOrt(file, x);
          expect(got).toHaveLength(expected.length);
          expectClose(got, expected, 1e-6);
        }
      });
    }
  }

  it("exports float64 models with DOUBLE initializers, which ONNX Runtime runs too", async () => {
    const id = await createModel({
      dtype: "float64",
      seed: 4,
      architecture: {
        inputSize: 6,
        hiddenSizes: [5, 4],
        outputSize: 3,
        activation: "sigmoid",
        weightInit: "he",
      },
    });
    const file = (await exported(id)).body;
    expect(fromBinary(ModelProtoSchema, file).graph?.initializer[0].dataType).toBe(
      TensorProto_DataType.DOUBLE,
    );
    const x = randomMatrix(7, 6, seeded(5));
    const expected = (await predict(id, x)).flat();
    const got = await runOrt(file, x, "float64");
    expectClose(got, expected, 1e-12);
  });
});

describe("POST /v1/models with an ONNX body", () => {
  it("imports an export with the same parameters, bit for bit, in both dtypes", async () => {
    for (const dtype of ["float32", "float64"]) {
      const id = await createModel({
        dtype,
        seed: 9,
        architecture: {
          inputSize: 8,
          hiddenSizes: [6, 5],
          outputSize: 3,
          activation: "relu",
          weightInit: "he",
        },
      });
      const res = await importOnnx((await exported(id)).body, "?name=round-trip");
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ name: "round-trip", dtype, origin: { kind: "layers" } });
      expect(res.headers.location).toBe(`/v1/models/${res.body.id}`);
      expect(await parameters(res.body.id)).toEqual(await parameters(id));
    }
  });

  it("takes application/octet-stream too, and keeps tenants apart", async () => {
    const keyed = await testApp({
      API_KEYS: "alice:alice-key-0123456789,bob:bob-key-0123456789ab",
    });
    try {
      const file = torchSequential({ names: "modern" });
      const alice = { authorization: "Bearer alice-key-0123456789" };
      const anonymous = await keyed.inject({
        method: "POST",
        url: "/v1/models",
        headers: { "content-type": "application/octet-stream" },
        payload: Buffer.from(file),
      });
      expect(anonymous.statusCode).toBe(401);
      const made = await keyed.inject({
        method: "POST",
        url: "/v1/models",
        headers: { "content-type": "application/octet-stream", ...alice },
        payload: Buffer.from(file),
      });
      expect(made.statusCode).toBe(201);
      const bob = await keyed.inject({
        url: `/v1/models/${made.json().id}`,
        headers: { authorization: "Bearer bob-key-0123456789ab" },
      });
      expect(bob.statusCode).toBe(404);
    } finally {
      await keyed.close();
    }
  });

  for (const names of ["modern", "legacy"] as const) {
    for (const storage of ["raw", "float_data"] as const) {
      it(`imports what torch.onnx.export writes for Sequential(Linear, ReLU, Linear): ${names} names, ${storage}`, async () => {
        const file = torchSequential({ names, storage });
        const res = await importOnnx(file);
        expect(res.status).toBe(201);
        // The scores get the loss layer every model here ends in.
        expect(res.body.layers.map((l: { type: string }) => l.type)).toEqual([
          "affine",
          "relu",
          "affine",
          "softmaxWithLoss",
        ]);
        expect(res.body.layers[0].W.shape).toEqual([4, 5]);
        // ONNX Runtime gives the logits; predict gives their softmax.
        const x = randomMatrix(7, 4, seeded(11));
        const logits = await runOrt(file, x);
        const expected = softmaxRows(logits, 3);
        const got = (await predict(res.body.id, x)).flat();
        expectClose(got, expected, 1e-6);
      });
    }
  }

  it("imports MatMul + Add, Flatten, Identity, Sigmoid and a Gemm with alpha, beta and transB = 0", async () => {
    const W1 = values(4 * 3, 1);
    const b1 = values(3, 2);
    const W2 = values(3 * 2, 3);
    const C2 = values(2, 4);
    const file = modelWith(
      [
        node("Flatten", ["input"], ["f"], { axis: 1 }),
        node("MatMul", ["f", "W1"], ["m"]),
        node("Add", ["m", "b1"], ["a"]),
        node("Sigmoid", ["a"], ["s"]),
        node("Identity", ["s"], ["i"]),
        node("Gemm", ["i", "W2", "C2"], ["g"], { alpha: 0.5, beta: 2 }),
        node("Softmax", ["g"], ["output"], { axis: 1 }),
      ],
      [init("W1", [4, 3], W1), init("b1", [3], b1), init("W2", [3, 2], W2), init("C2", [1, 2], C2)],
      4,
      2,
    );
    const res = await importOnnx(file);
    expect(res.status).toBe(201);
    expect(res.body.layers.map((l: { type: string }) => l.type)).toEqual([
      "affine",
      "sigmoid",
      "affine",
      "softmaxWithLoss",
    ]);
    const x = randomMatrix(7, 4, seeded(12));
    const expected = await runOrt(file, x);
    const got = (await predict(res.body.id, x)).flat();
    expectClose(got, expected, 1e-6);
  });

  it("refuses what it cannot hold with a 400 naming the node and its op", async () => {
    const W = init("W", [4, 2], values(8, 1));
    const cases: [NodeProto[], RegExp][] = [
      [
        [node("Conv", ["input", "W"], ["output"], {}, "/0/Conv")],
        /node "\/0\/Conv" \(op Conv\) is not supported/,
      ],
      [
        [node("Gemm", ["input", "W"], ["output"], { transA: 1 }, "/0/Gemm")],
        /node "\/0\/Gemm" \(op Gemm\) has transA = 1/,
      ],
      [
        [
          node("Gemm", ["input", "W"], ["g"], {}, "g"),
          node("Softmax", ["g"], ["output"], { axis: 0 }, "sm"),
        ],
        /node "sm" \(op Softmax\) is over axis 0/,
      ],
      [
        [node("Add", ["input", "W"], ["output"], {}, "add")],
        /node "add" \(op Add\) is supported only as the bias after a MatMul/,
      ],
      [
        [
          node("Gemm", ["input", "W"], ["g"], {}, "g"),
          node("Relu", ["input"], ["output"], {}, "r"),
        ],
        /node "r" \(op Relu\) does not take "g"/,
      ],
    ];
    for (const [nodes, message] of cases) {
      const res = await importOnnx(modelWith(nodes, [W], 4, 2));
      expectProblem(res, 400, "VALIDATION_FAILED");
      expect(res.body.errors[0].path).toMatch(/^onnx\.graph\.node\[\d\]$/);
      expect(res.body.detail).toMatch(message);
    }
    const shapes = modelWith(
      [node("Gemm", ["input", "W"], ["g"], {}, "a"), node("Gemm", ["g", "W"], ["output"], {}, "b")],
      [W],
      4,
      2,
    );
    expect((await importOnnx(shapes)).body.detail).toMatch(
      /node "b" \(op Gemm\) takes 4 inputs, but the layer before it gives 2/,
    );
    const garbage = await importOnnx(new TextEncoder().encode("not a model"));
    expectProblem(garbage, 400, "VALIDATION_FAILED");
    expect(garbage.body.detail).toMatch(/not an ONNX ModelProto/);
  });
});

// --- ONNX files built with the protobuf library, shaped as their producers write them ---

function values(n: number, seed: number): Float32Array {
  const random = seeded(seed);
  return Float32Array.from({ length: n }, () => random() * 2 - 1);
}

function init(
  name: string,
  dims: number[],
  data: Float32Array,
  storage: "raw" | "float_data" = "raw",
) {
  return {
    name,
    dims: dims.map(BigInt),
    dataType: TensorProto_DataType.FLOAT,
    ...(storage === "raw"
      ? { rawData: new Uint8Array(data.slice().buffer as ArrayBuffer) }
      : { floatData: Array.from(data) }),
  };
}

function node(
  opType: string,
  input: string[],
  output: string[],
  attributes: Record<string, number> = {},
  name = `/${opType}`,
): NodeProto {
  return create(NodeProtoSchema, {
    name,
    opType,
    input,
    output,
    attribute: Object.entries(attributes).map(([key, v]) =>
      ["alpha", "beta"].includes(key)
        ? { name: key, type: AttributeProto_AttributeType.FLOAT, f: v }
        : { name: key, type: AttributeProto_AttributeType.INT, i: BigInt(v) },
    ),
  });
}

function tensorType(name: string, batch: string, size: number) {
  return {
    name,
    type: {
      value: {
        case: "tensorType" as const,
        value: {
          elemType: TensorProto_DataType.FLOAT,
          shape: {
            dim: [
              { value: { case: "dimParam" as const, value: batch } },
              { value: { case: "dimValue" as const, value: BigInt(size) } },
            ],
          },
        },
      },
    },
  };
}

function modelWith(
  nodes: NodeProto[],
  initializers: ReturnType<typeof init>[],
  inputs: number,
  outputs: number,
  opset = 13n,
): Uint8Array {
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 8n,
      producerName: "pytorch",
      producerVersion: "2.4.0",
      opsetImport: [{ domain: "", version: opset }],
      graph: {
        name: "main_graph",
        node: nodes,
        initializer: initializers,
        input: [tensorType("input", "batch_size", inputs)],
        output: [tensorType("output", "batch_size", outputs)],
      },
    }),
  );
}

/**
 * torch.onnx.export(nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)), ...) with a
 * dynamic batch axis: Gemm with alpha = beta = 1 and transB = 1 over the Linear's weight
 * [out, in]; node names `/0/Gemm`, `/1/Relu`, `/2/Gemm`; initializers named `0.weight`, `0.bias`
 * by recent versions and `onnx::Gemm_7` and the like by older ones, raw_data by default.
 */
function torchSequential({
  names,
  storage = "raw",
}: {
  names: "modern" | "legacy";
  storage?: "raw" | "float_data";
}): Uint8Array {
  const [w0, b0, w2, b2] =
    names === "modern"
      ? ["0.weight", "0.bias", "2.weight", "2.bias"]
      : ["onnx::Gemm_7", "onnx::Gemm_8", "onnx::Gemm_9", "onnx::Gemm_10"];
  const gemm = { alpha: 1, beta: 1, transB: 1 };
  return modelWith(
    [
      node("Gemm", ["input", w0, b0], ["/0/Gemm_output_0"], gemm, "/0/Gemm"),
      node("Relu", ["/0/Gemm_output_0"], ["/1/Relu_output_0"], {}, "/1/Relu"),
      node("Gemm", ["/1/Relu_output_0", w2, b2], ["output"], gemm, "/2/Gemm"),
    ],
    [
      init(w0, [5, 4], values(20, 21), storage),
      init(b0, [5], values(5, 22), storage),
      init(w2, [3, 5], values(15, 23), storage),
      init(b2, [3], values(3, 24), storage),
    ],
    4,
    3,
    17n,
  );
}

function softmaxRows(logits: number[], width: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < logits.length; r += width) {
    const row = logits.slice(r, r + width);
    const max = Math.max(...row);
    const exps = row.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    out.push(...exps.map((e) => e / sum));
  }
  return out;
}

function expectClose(got: number[], expected: number[], tolerance: number) {
  expect(got).toHaveLength(expected.length);
  for (let i = 0; i < got.length; i++) {
    expect(Math.abs(got[i] - expected[i]), `element ${i}`).toBeLessThan(tolerance);
  }
}
