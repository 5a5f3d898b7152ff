import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import {
  type ClientInput,
  kserveError,
  kserveInfer,
  kserveResponse,
  send,
  tritonError,
  tritonInfer,
  tritonResult,
} from "../helpers/oip-clients.js";
import { randomMatrix, seeded } from "../helpers/tensors.js";

const INPUTS = 6;
const OUTPUTS = 3;
const ROWS = 5;

let app: FastifyInstance;
let base: string;
let modelId: string;
let x: number[][];
/** /v1 predict's answer for x, the reference every /v2 answer is held to. */
let reference: { probabilities: number[][]; labels: number[] };

async function createModel(body: Record<string, unknown>) {
  const res = await request(app.server).post("/v1/models").send(body);
  expect(res.status).toBe(201);
  return res.body.id as string;
}

const architecture = {
  inputSize: INPUTS,
  hiddenSizes: [4],
  outputSize: OUTPUTS,
  activation: "relu",
  weightInit: "he",
};

beforeAll(async () => {
  app = await testApp();
  await app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = app.server.address() as { port: number };
  base = `http://127.0.0.1:${port}`;
  modelId = await createModel({ name: "clf", seed: 3, architecture });
  // Values with float32 noise, as numpy's .item() of a float32 array gives them.
  x = randomMatrix(ROWS, INPUTS, seeded(7), 3).map((row) => row.map(Math.fround));
  const res = await request(app.server).post(`/v1/models/${modelId}/predict`).send({ x });
  expect(res.status).toBe(200);
  reference = res.body;
});
afterAll(() => app.close());

/** The reference probabilities as float32 values (a float32 array's elements read as numbers). */
const float32Reference = () => reference.probabilities.flat().map(Math.fround);

const fp32 = (binary: boolean, values = x.flat()): ClientInput => ({
  name: "x",
  shape: [ROWS, INPUTS],
  datatype: "FP32",
  values: Float32Array.from(values),
  binary,
});

const infer = (path: string, sent: { headers: Record<string, string>; body: Buffer }) =>
  send(base, "POST", path, sent.headers, sent.body);

describe("/v2 health and metadata, as tritonclient.http and KServe ask for them", () => {
  it("is live and ready, and names the binary extension", async () => {
    const live = await send(base, "GET", "/v2/health/live");
    expect(live.status).toBe(200); // is_server_live: status_code == 200
    expect(JSON.parse(live.body.toString())).toEqual({ live: true }); // KServe: .get("live")
    const ready = await send(base, "GET", "/v2/health/ready");
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body.toString()).ready).toBe(true);
    const server = await send(base, "GET", "/v2");
    expect(server.status).toBe(200);
    expect(server.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(server.body.toString())).toEqual({
      name: "backprop service",
      version: expect.any(String),
      extensions: ["binary_tensor_data"],
    });
  });

  it("describes a model by name (the newest of that name) or id, with its versions", async () => {
    const older = await createModel({ name: "twice", seed: 1, architecture });
    const newer = await createModel({ name: "twice", dtype: "float64", seed: 2, architecture });
    const byName = await send(base, "GET", "/v2/models/twice");
    expect(byName.status).toBe(200);
    expect(JSON.parse(byName.body.toString())).toEqual({
      name: "twice",
      versions: [newer, older],
      platform: "backprop_native",
      inputs: [{ name: "x", datatype: "FP64", shape: [-1, INPUTS] }],
      outputs: [
        { name: "probabilities", datatype: "FP64", shape: [-1, OUTPUTS] },
        { name: "labels", datatype: "INT64", shape: [-1] },
      ],
    });
    const version = JSON.parse(
      (await send(base, "GET", `/v2/models/twice/versions/${older}`)).body.toString(),
    );
    expect(version.inputs[0].datatype).toBe("FP32");
    const byId = JSON.parse((await send(base, "GET", `/v2/models/${older}`)).body.toString());
    expect(byId.inputs[0].datatype).toBe("FP32");
    expect(byId.versions).toEqual([newer, older]);
    const ready = await send(base, "GET", `/v2/models/twice/versions/${newer}/ready`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body.toString())).toEqual({ name: "twice", ready: true });
    // A version of another model is not a version of this one.
    const other = await send(base, "GET", `/v2/models/twice/versions/${modelId}`);
    expect(other.status).toBe(404);
    expect((await send(base, "GET", "/v2/models/nothing/ready")).status).toBe(404);
  });
});

describe("/v2 infer, replaying tritonclient.http", () => {
  it("JSON in and out (binary_data=False everywhere), with no Content-Type", async () => {
    const sent = tritonInfer([fp32(false)], {
      id: "req-1",
      outputs: [
        { name: "probabilities", binary_data: false },
        { name: "labels", binary_data: false },
      ],
    });
    expect(sent.headers).not.toHaveProperty("Content-Type");
    const res = await infer("/v2/models/clf/infer", sent);
    expect(res.status).toBe(200);
    const { result, asNumpy } = tritonResult(res);
    expect(result).toMatchObject({ model_name: "clf", model_version: modelId, id: "req-1" });
    const probabilities = asNumpy("probabilities");
    expect(probabilities?.shape).toEqual([ROWS, OUTPUTS]);
    expect(Array.from(probabilities?.values as Float32Array)).toEqual(float32Reference());
    expect(Array.from(asNumpy("labels")?.values as BigInt64Array, Number)).toEqual(
      reference.labels,
    );
  });

  it("binary in and out by default (binary_data_output), bit for bit the JSON answer", async () => {
    const sent = tritonInfer([fp32(true)]);
    expect(sent.headers["Inference-Header-Content-Length"]).toBeDefined();
    const res = await infer(`/v2/models/clf/versions/${modelId}/infer`, sent);
    expect(res.status).toBe(200);
    expect(res.headers["inference-header-content-length"]).toBeDefined();
    const binary = tritonResult(res);
    expect(binary.result.outputs.map((o: { parameters: unknown }) => o.parameters)).toEqual([
      { binary_data_size: ROWS * OUTPUTS * 4 },
      { binary_data_size: ROWS * 8 },
    ]);
    const json = tritonResult(
      await infer(
        "/v2/models/clf/infer",
        tritonInfer([fp32(false)], {
          outputs: [{ name: "probabilities", binary_data: false }],
        }),
      ),
    );
    const bits = (r: typeof json) =>
      Array.from(new Uint32Array((r.asNumpy("probabilities")!.values as Float32Array).buffer));
    expect(bits(binary)).toEqual(bits(json));
    expect(Array.from(binary.asNumpy("labels")?.values as BigInt64Array, Number)).toEqual(
      reference.labels,
    );
  });

  it("one output in binary and one in JSON, and only the outputs asked for", async () => {
    const res = await infer(
      "/v2/models/clf/infer",
      tritonInfer([fp32(true)], { outputs: [{ name: "labels", binary_data: true }] }),
    );
    const { result, asNumpy } = tritonResult(res);
    expect(result.outputs.map((o: { name: string }) => o.name)).toEqual(["labels"]);
    expect(Array.from(asNumpy("labels")?.values as BigInt64Array, Number)).toEqual(
      reference.labels,
    );
    const mixed = tritonResult(
      await infer(
        "/v2/models/clf/infer",
        tritonInfer([fp32(true)], {
          outputs: [
            { name: "labels", binary_data: false },
            { name: "probabilities", binary_data: true },
          ],
        }),
      ),
    );
    expect(Array.from(mixed.asNumpy("probabilities")?.values as Float32Array)).toEqual(
      float32Reference(),
    );
    expect(mixed.result.outputs[0].data).toEqual(reference.labels);
  });

  it("converts FP64 and integer inputs, JSON and binary, to the same answer", async () => {
    const ints = x.flat().map((v) => Math.round(v * 10) + 40);
    const expected = await request(app.server)
      .post(`/v1/models/${modelId}/predict`)
      .send({ x: { shape: [ROWS, INPUTS], data: ints } });
    const cases: ClientInput[] = [
      { ...fp32(true), datatype: "UINT8", values: Uint8Array.from(ints) },
      { ...fp32(false), datatype: "INT32", values: Int32Array.from(ints) },
      { ...fp32(true), datatype: "FP64", values: Float64Array.from(ints) },
      {
        ...fp32(true),
        datatype: "INT64",
        values: BigInt64Array.from(ints, (v) => BigInt(v)) as unknown as Int32Array,
      },
    ];
    for (const input of cases) {
      const res = await infer(
        "/v2/models/clf/infer",
        tritonInfer([input], { outputs: [{ name: "probabilities", binary_data: false }] }),
      );
      expect(res.status, input.datatype).toBe(200);
      expect(tritonResult(res).result.outputs[0].data).toEqual(expected.body.probabilities.data);
    }
  });

  it("takes binary bytes at any offset (a JSON header of odd length)", async () => {
    const sent = tritonInfer([fp32(true)], { id: "odd" });
    const aligned = tritonInfer([fp32(true)], { id: "ev" });
    expect((sent.body.length - ROWS * INPUTS * 4) % 4).not.toBe(
      (aligned.body.length - ROWS * INPUTS * 4) % 4,
    );
    for (const s of [sent, aligned]) {
      const { asNumpy } = tritonResult(await infer("/v2/models/clf/infer", s));
      expect(Array.from(asNumpy("probabilities")?.values as Float32Array)).toEqual(
        float32Reference(),
      );
    }
  });

  it("answers errors as {error} that _get_error reads, with /v1's statuses", async () => {
    const unknown = await infer("/v2/models/nope/infer", tritonInfer([fp32(false)]));
    expect(unknown.status).toBe(404);
    expect(tritonError(unknown)).toBe("model nope does not exist");
    const shape = await infer(
      "/v2/models/clf/infer",
      tritonInfer([{ ...fp32(false), shape: [ROWS, INPUTS + 1] }]),
    );
    expect(shape.status).toBe(400);
    expect(tritonError(shape)).toMatch(`inputs[0].shape: is [${ROWS}, ${INPUTS + 1}]`);
    const short = tritonInfer([fp32(true)]);
    const truncated = await infer("/v2/models/clf/infer", {
      headers: short.headers,
      body: short.body.subarray(0, short.body.length - 4),
    });
    expect(truncated.status).toBe(400);
    expect(tritonError(truncated)).toMatch("binary_data_size");
  });
});

describe("/v2 infer, replaying KServe's InferenceRESTClient", () => {
  it("binary as application/octet-stream, its id echoed, read by from_bytes", async () => {
    const id = "0b7c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d";
    const sent = kserveInfer("clf", [fp32(true)], {
      id,
      outputs: [{ name: "probabilities", binary_data: true }, { name: "labels" }],
    });
    const res = await infer("/v2/models/clf/infer", sent);
    expect(res.status).toBe(200);
    const response = kserveResponse(res);
    expect(response).toMatchObject({ id, modelName: "clf" });
    expect(response.outputs[0].values).toEqual(float32Reference());
    expect(response.outputs[1].values).toEqual(reference.labels);
  });

  it("JSON as application/json, nested data accepted, parameters kept", async () => {
    const sent = kserveInfer("clf", [fp32(false)], { id: "k-2" });
    const body = JSON.parse(sent.body.toString());
    body.inputs[0].data = x; // nested, row-major
    body.parameters = { content_type: "np" };
    const res = await infer("/v2/models/clf/infer", {
      ...sent,
      body: Buffer.from(JSON.stringify(body)),
    });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("application/json");
    const response = kserveResponse(res);
    expect(response.outputs[0].values).toEqual(reference.probabilities.flat());
    expect(JSON.parse(res.body.toString()).parameters).toEqual({ content_type: "np" });
  });

  it("errors with content-type exactly application/json, so the client reads `error`", async () => {
    // biome-ignore lint/suspicious/noExplicitAny: each case edits the client's JSON freely
    type Body = Record<string, any>;
    const bad = (mutate: (body: Body) => void) => {
      const sent = kserveInfer("clf", [fp32(false)], { id: "e" });
      const body = JSON.parse(sent.body.toString());
      mutate(body);
      return infer("/v2/models/clf/infer", { ...sent, body: Buffer.from(JSON.stringify(body)) });
    };
    const cases: [(b: Body) => void, number, RegExp][] = [
      [
        (b) => {
          b.inputs[0].data[3] = "a";
        },
        400,
        /inputs\[0\]\.data\[3\]: expected a finite number/,
      ],
      [
        (b) => {
          b.inputs[0].data.pop();
        },
        400,
        /holds 29 values but shape \[5, 6\] needs 30/,
      ],
      [
        (b) => {
          b.inputs[0].datatype = "BYTES";
        },
        400,
        /BYTES is not supported/,
      ],
      [
        (b) => {
          b.inputs[0].name = "input";
        },
        400,
        /one input, "x"/,
      ],
      [
        (b) => {
          b.outputs = [{ name: "logits" }];
        },
        400,
        /"logits" is not an output/,
      ],
      [
        (b) => {
          b.inputs[0].datatype = "UINT8";
        },
        400,
        /is not a UINT8 value/,
      ],
      [
        (b) => {
          b.inputs = "x";
        },
        400,
        /inputs/,
      ],
    ];
    for (const [mutate, status, message] of cases) {
      const res = await bad(mutate);
      expect(res.status).toBe(status);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(kserveError(res)).toMatch(message);
    }
    const notJson = await infer("/v2/models/clf/infer", {
      headers: { "content-type": "application/json" },
      body: Buffer.from("{"),
    });
    expect(notJson.status).toBe(400);
    expect(kserveError(notJson)).not.toBe("");
    const unknownRoute = await send(base, "GET", "/v2/nothing");
    expect(unknownRoute.status).toBe(404);
    expect(kserveError(unknownRoute)).toMatch("no route");
  });
});

describe("/v2 beside /v1", () => {
  it("counts /v2 routes in /metrics by their pattern", async () => {
    await infer("/v2/models/clf/infer", tritonInfer([fp32(true)]));
    const metrics = await request(app.server).get("/metrics");
    expect(metrics.text).toMatch(
      /http_requests_total\{method="POST",route="\/v2\/models\/:model\/infer",status="200"\}/,
    );
  });

  it("keeps /v1 JSON-only: an octet-stream predict is still a 415 problem", async () => {
    const res = await send(
      base,
      "POST",
      `/v1/models/${modelId}/predict`,
      {
        "content-type": "application/octet-stream",
      },
      Buffer.from("{}"),
    );
    expect(res.status).toBe(415);
    expect(res.headers["content-type"]).toMatch(/^application\/problem\+json/);
  });

  it("answers 413 over the body limit as {error}", async () => {
    const small = await testApp({ BODY_LIMIT_BYTES: "1024" });
    try {
      const rows = Array.from({ length: 300 }, () => 0.5);
      const sent = tritonInfer([{ ...fp32(true, rows), shape: [50, INPUTS] }]);
      const res = await small.inject({
        method: "POST",
        url: "/v2/models/clf/infer",
        headers: sent.headers,
        payload: sent.body,
      });
      expect(res.statusCode).toBe(413);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(res.json().error).toEqual(expect.any(String));
    } finally {
      await small.close();
    }
  });
});

describe("/v2 with API keys and tenants", () => {
  const ALICE = "alice-key-0123456789";
  const BOB = "bob-key-0123456789ab";
  let keyed: FastifyInstance;
  beforeAll(async () => {
    keyed = await testApp({ API_KEYS: `alice:${ALICE},bob:${BOB}` });
  });
  afterAll(() => keyed.close());

  it("needs a key past health, and keeps each tenant's models its own", async () => {
    const created = await keyed.inject({
      method: "POST",
      url: "/v1/models",
      headers: { authorization: `Bearer ${ALICE}` },
      payload: { name: "mine", architecture },
    });
    expect(created.statusCode).toBe(201);
    expect((await keyed.inject({ url: "/v2/health/ready" })).statusCode).toBe(200);
    const anonymous = await keyed.inject({ url: "/v2/models/mine" });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers["content-type"]).toBe("application/json");
    expect(anonymous.json().error).toMatch("Authorization");
    expect((await keyed.inject({ url: "/v2", headers: {} })).statusCode).toBe(401);
    const alice = { authorization: `Bearer ${ALICE}` };
    expect((await keyed.inject({ url: "/v2/models/mine", headers: alice })).statusCode).toBe(200);
    const sent = tritonInfer([fp32(false)]);
    const inferred = await keyed.inject({
      method: "POST",
      url: "/v2/models/mine/infer",
      headers: { ...sent.headers, ...alice },
      payload: sent.body,
    });
    expect(inferred.statusCode).toBe(200);
    const bob = await keyed.inject({
      url: "/v2/models/mine",
      headers: { authorization: `Bearer ${BOB}` },
    });
    expect(bob.statusCode).toBe(404);
  });
});

describe("/v2/health/ready while draining", () => {
  it("answers 503 {ready: false}, stays live, and refuses new inference", async () => {
    app.accepting = false; // what the preClose hook does on SIGTERM (see operations.test.ts)
    try {
      const ready = await send(base, "GET", "/v2/health/ready");
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body.toString())).toEqual({ ready: false });
      expect((await send(base, "GET", "/v2/health/live")).status).toBe(200);
      const work = await infer("/v2/models/clf/infer", tritonInfer([fp32(true)]));
      expect(work.status).toBe(503);
      expect(tritonError(work)).toMatch("shutting down");
    } finally {
      app.accepting = true;
    }
    expect((await send(base, "GET", "/v2/health/ready")).status).toBe(200);
  });
});
