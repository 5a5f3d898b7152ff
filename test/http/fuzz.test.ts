/**
 * Fuzzing every route: valid bodies broken a little, arbitrary JSON, and text that is not JSON.
 * The property is that each answer is a 2xx, or a 4xx problem+json; never a 5xx, never a hang,
 * and /healthz keeps answering. FUZZ_RUNS sets the number of cases of the whole file, FUZZ_SEED
 * the seed (fast-check prints it with any counterexample), and FUZZ_STATS=1 prints how many
 * answers of each status every route gave.
 */
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { waitForJob } from "../helpers/jobs.js";
import {
  bury,
  type Json,
  mutateText,
  mutateValue,
  type TextMutation,
  type ValueMutation,
} from "../helpers/json-mutation.js";
import { tempDir } from "../helpers/temp.js";
import { seeded } from "../helpers/tensors.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 6000);
const SEED = Number(process.env.FUZZ_SEED ?? 52024);

let app: FastifyInstance;
/** Ids the cases refer to by name, known once beforeAll has made them. */
const ids = { model: "", finishedJob: "", created: [] as string[], jobs: [] as string[] };
/** The body that started each job, to show with a job that went wrong. */
const jobBodies = new Map<string, string>();

beforeAll(async () => {
  app = await testApp({
    DATA_DIR: tempDir(),
    MAX_TENSOR_ELEMENTS: "4096",
    MAX_TENSOR_RANK: "4",
    BODY_LIMIT_BYTES: String(256 * 1024),
    REQUEST_TIMEOUT_MS: "10000",
    MAX_TRAINING_ITERATIONS: "20",
    MAX_BATCH_SIZE: "64",
    MAX_DATASET_SAMPLES: "1000",
    RATE_LIMIT_PER_MINUTE: "100000000",
  });
  const model = await request(app.server)
    .post("/v1/models")
    .send({ name: "fuzz", seed: 1, architecture: REAL_MODEL });
  expect(model.status).toBe(201);
  ids.model = model.body.id;
  const job = await request(app.server)
    .post("/v1/training-jobs")
    .send({
      modelId: ids.model,
      data: { x: [[0, 1, 2]], t: [1] },
      batchSize: 1,
      iterations: 2,
    });
  expect(job.status).toBe(202);
  ids.finishedJob = (await waitForJob(app.server, job.body.id)).id;
});

afterAll(async () => {
  if (process.env.FUZZ_STATS) {
    const rows = [...answers].sort(([a], [b]) => a.localeCompare(b));
    console.log(rows.map(([key, n]) => `${String(n).padStart(6)}  ${key}`).join("\n"));
  }
  await app?.close();
});

afterEach(async () => {
  expect((await request(app.server).get("/healthz")).status).toBe(200);
});

// ---------------------------------------------------------------------------------------------
// Sending a case and judging the answer

interface Case {
  method: "GET" | "POST" | "DELETE" | "PUT" | "PATCH" | "HEAD" | "OPTIONS";
  url: string;
  body?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

/** What the property looks at in an answer. */
interface Answer {
  status: number;
  contentType: string;
  text: string;
}

/** Placeholders in generated URLs and bodies, resolved when the case is sent. */
function resolve(url: string): string {
  const pick = (list: string[], fallback: string) =>
    list.length > 0 ? list[list.length - 1] : fallback;
  return url
    .replaceAll("{model}", ids.model)
    .replaceAll("{created}", pick(ids.created, "none"))
    .replaceAll("{finishedJob}", ids.finishedJob)
    .replaceAll("{job}", pick(ids.jobs, "none"));
}

let sent = 0;

/** Answers per route and status, printed with FUZZ_STATS=1 to see what the cases reach. */
const answers = new Map<string, number>();
function tally(c: Case, res: request.Response): void {
  const route = c.url.replace(/\/v1\/(models|training-jobs)\/[^/?]+/, "/v1/$1/:id").split("?")[0];
  const key = `${c.method} ${route} ${res.status} ${res.body?.code ?? ""}`.trim();
  answers.set(key, (answers.get(key) ?? 0) + 1);
}

async function send(c: Case): Promise<request.Response> {
  const url = resolve(c.url);
  const method = c.method.toLowerCase() as Lowercase<Case["method"]>;
  let req = request(app.server)[method](url).timeout({ deadline: 20_000 });
  if (c.headers) req = req.set(c.headers);
  if (c.body !== undefined) {
    if (c.contentType !== undefined) req = req.set("content-type", c.contentType);
    req = req.send(resolve(c.body));
  }
  const res = await req;
  if (++sent % 50 === 0) {
    const health = await request(app.server).get("/healthz").timeout({ deadline: 5_000 });
    if (health.status !== 200) throw new Error(`/healthz answered ${health.status}`);
  }
  return res;
}

/** 2xx, or a 4xx problem+json with every field of API.md, "Errors". */
function judge(label: string, { status, contentType, text }: Answer): void {
  if (status >= 200 && status < 300) return;
  const where = `${label} → ${status} ${contentType} ${text.slice(0, 500)}`;
  if (status < 400 || status >= 500) throw new Error(`not a 2xx or 4xx: ${where}`);
  if (!/^application\/problem\+json/.test(contentType)) {
    throw new Error(`a 4xx that is not problem+json: ${where}`);
  }
  // A HEAD answer has no body to look into.
  if (label.startsWith("HEAD ")) return;
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text);
  } catch {
    // judged below as a problem without its fields
  }
  const ok =
    typeof body.type === "string" &&
    typeof body.title === "string" &&
    body.status === status &&
    typeof body.detail === "string" &&
    typeof body.code === "string" &&
    /^[A-Z_]+$/.test(body.code);
  if (!ok) throw new Error(`a problem without {type, title, status, detail, code}: ${where}`);
}

const answer = (res: request.Response): Answer => ({
  status: res.status,
  contentType: String(res.headers["content-type"] ?? ""),
  text: res.text ?? "",
});

/** Sends one case and judges its answer; a job it started is remembered, every other cancelled. */
async function check(c: Case): Promise<void> {
  const res = await send(c);
  judge(`${c.method} ${resolve(c.url)}`, answer(res));
  tally(c, res);
  if (c.method === "POST" && c.url === "/v1/models" && res.status === 201) {
    ids.created.push(res.body.id);
  }
  if (c.method === "POST" && c.url === "/v1/training-jobs" && res.status === 202) {
    ids.jobs.push(res.body.id);
    jobBodies.set(res.body.id, resolve(c.body ?? ""));
    if (ids.jobs.length % 2 === 0) return;
    const cancel = `/v1/training-jobs/${res.body.id}/cancel`;
    judge(`POST ${cancel}`, answer(await send({ method: "POST", url: cancel })));
  }
}

const runs = (share: number) => Math.max(1, Math.round(RUNS * share));

async function fuzz(share: number, index: number, arbitrary: fc.Arbitrary<Case>): Promise<void> {
  await fc.assert(fc.asyncProperty(arbitrary, check), {
    numRuns: runs(share),
    seed: SEED + index,
  });
}

// ---------------------------------------------------------------------------------------------
// Valid bodies, from small random shapes

type Encoding = "nested" | "flat" | "float32" | "float64";

interface Scenario {
  seed: number;
  /** null: a 1-D x, one sample */
  batch: number | null;
  /** inputs, hidden sizes..., outputs */
  sizes: number[];
  activation: "relu" | "sigmoid";
  loss: boolean;
  oneHot: boolean;
  scale: number;
  encoding: Encoding | "mixed";
  dtype: "float32" | "float64" | undefined;
  outputEncoding: "nested" | "flat" | "base64" | undefined;
  layerType: "relu" | "sigmoid" | "affine" | "softmaxWithLoss";
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  seed: fc.nat(),
  batch: fc.option(fc.integer({ min: 1, max: 4 }), { nil: null, freq: 4 }),
  sizes: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 4 }),
  activation: fc.constantFrom("relu", "sigmoid"),
  loss: fc.boolean(),
  oneHot: fc.boolean(),
  scale: fc.constantFrom(1, 1, 1, 100, 1e20, 1e38),
  encoding: fc.constantFrom("nested", "flat", "float32", "float64", "mixed"),
  dtype: fc.constantFrom(undefined, "float32", "float64"),
  outputEncoding: fc.constantFrom(undefined, "nested", "flat", "base64"),
  layerType: fc.constantFrom("relu", "sigmoid", "affine", "softmaxWithLoss"),
});

function nest(values: number[], shape: number[]): Json {
  if (shape.length <= 1) return values;
  const stride = values.length / shape[0];
  return Array.from({ length: shape[0] }, (_, r) =>
    nest(values.slice(r * stride, (r + 1) * stride), shape.slice(1)),
  );
}

function encode(shape: number[], values: number[], encoding: Encoding): Json {
  if (encoding === "nested") return nest(values, shape);
  if (encoding === "flat") return { shape, data: values };
  const data = encoding === "float32" ? Float32Array.from(values) : Float64Array.from(values);
  return { shape, dtype: encoding, base64: Buffer.from(data.buffer).toString("base64") };
}

/** The tensors of one scenario, drawn from its seed. */
function tensors(s: Scenario) {
  const random = seeded(s.seed);
  const encodings: Encoding[] = ["nested", "flat", "float32", "float64"];
  const tensor = (shape: number[], values?: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = values ?? Array.from({ length: size }, () => (random() * 2 - 1) * s.scale);
    const encoding = s.encoding === "mixed" ? encodings[Math.floor(random() * 4)] : s.encoding;
    return encode(shape, data, encoding);
  };
  const batched = (features: number) => (s.batch === null ? [features] : [s.batch, features]);
  const labels = (classes: number) => {
    const n = s.batch ?? 1;
    const indices = Array.from({ length: n }, () => Math.floor(random() * classes));
    if (!s.oneHot) return tensor([n], indices);
    const oneHot = indices.flatMap((k) => Array.from({ length: classes }, (_, c) => +(c === k)));
    return tensor(batched(classes), oneHot);
  };
  const affine = (inputs: number, outputs: number): Json => ({
    type: "affine",
    W: tensor([inputs, outputs]),
    b: tensor([outputs]),
  });
  return { tensor, batched, labels, affine };
}

function options(s: Scenario): Record<string, Json> {
  return {
    ...(s.dtype ? { dtype: s.dtype } : {}),
    ...(s.outputEncoding ? { outputEncoding: s.outputEncoding } : {}),
  };
}

function network(s: Scenario, loss = s.loss) {
  const { affine, tensor, batched, labels } = tensors(s);
  const layers: Json[] = [];
  for (let i = 0; i + 1 < s.sizes.length; i++) {
    if (i > 0) layers.push({ type: s.activation });
    layers.push(affine(s.sizes[i], s.sizes[i + 1]));
  }
  if (loss) layers.push({ type: "softmaxWithLoss" });
  const outputs = s.sizes[s.sizes.length - 1];
  return {
    layers,
    x: tensor(batched(s.sizes[0])),
    t: labels(outputs),
    dout: tensor(batched(outputs)),
  };
}

const REAL_MODEL = {
  inputSize: 3,
  hiddenSizes: [4],
  outputSize: 2,
  activation: "relu",
  weightInit: "he",
};

function architecture(s: Scenario): Record<string, Json> {
  const weightInit = ["he", "xavier", Math.max(1e-3, s.scale / 1e36)][s.seed % 3];
  return {
    ...(s.seed % 2 ? { name: `fuzz ${s.seed}` } : {}),
    ...(s.dtype ? { dtype: s.dtype } : {}),
    seed: s.seed % 1000,
    architecture: {
      inputSize: s.sizes[0],
      hiddenSizes: s.sizes.slice(1, -1),
      outputSize: s.sizes[s.sizes.length - 1],
      activation: s.activation,
      weightInit,
    },
  };
}

/** The real model mostly, else the last one a case created. */
const MODELS = ["{model}", "{model}", "{created}"];

/** A body each POST route accepts as is (most of the time: a scale of 1e38 may overflow). */
const VALID: Record<string, (s: Scenario) => { url: string; body: Record<string, Json> }> = {
  layersForward(s) {
    const { tensor, batched, labels, affine } = tensors(s);
    const [inputs, outputs] = s.sizes;
    const layer = s.layerType === "affine" ? affine(inputs, outputs) : { type: s.layerType };
    const t: Record<string, Json> =
      s.layerType === "softmaxWithLoss" || s.loss ? { t: labels(inputs) } : {};
    return {
      url: "/v1/layers/forward",
      body: { layer, x: tensor(batched(inputs)), ...t, ...options(s) },
    };
  },
  layersBackward(s) {
    const { tensor, batched, labels, affine } = tensors(s);
    const [inputs, outputs] = s.sizes;
    const layer = s.layerType === "affine" ? affine(inputs, outputs) : { type: s.layerType };
    const x = tensor(batched(inputs));
    const rest: Record<string, Json> =
      s.layerType === "softmaxWithLoss"
        ? { t: labels(inputs), ...(s.loss ? { dout: s.scale } : {}) }
        : { dout: tensor(batched(s.layerType === "affine" ? outputs : inputs)) };
    return { url: "/v1/layers/backward", body: { layer, x, ...rest, ...options(s) } };
  },
  networksForward(s) {
    const { layers, x, t } = network(s);
    return {
      url: "/v1/networks/forward",
      body: { layers, x, ...(s.loss ? { t } : {}), ...options(s) },
    };
  },
  networksBackward(s) {
    const { layers, x, t, dout } = network(s);
    return {
      url: "/v1/networks/backward",
      body: { layers, x, ...(s.loss ? { t } : { dout }), ...options(s) },
    };
  },
  gradientCheck(s) {
    const { layers, x, t } = network(s, true);
    const epsilon = [1e-4, 1e-2, 1, 1e-7][s.seed % 4];
    return {
      url: "/v1/networks/gradient-check",
      body: { layers, x, t, epsilon, ...(s.dtype ? { dtype: s.dtype } : {}) },
    };
  },
  createModel(s) {
    if (s.loss) return { url: "/v1/models", body: architecture(s) };
    const { layers } = network(s, s.oneHot);
    return { url: "/v1/models", body: { layers, ...(s.dtype ? { dtype: s.dtype } : {}) } };
  },
  predict(s) {
    const { tensor, batched } = tensors(s);
    const x = tensor(batched(REAL_MODEL.inputSize));
    return {
      url: `/v1/models/${MODELS[s.seed % MODELS.length]}/predict`,
      body: { x, ...options({ ...s, dtype: undefined }) },
    };
  },
  evaluate(s) {
    const { tensor, batched, labels } = tensors(s);
    const x = tensor(batched(REAL_MODEL.inputSize));
    const url = `/v1/models/${MODELS[s.seed % MODELS.length]}/evaluate`;
    let body: Record<string, Json> = { x, t: labels(REAL_MODEL.outputSize) };
    // The one split small enough to load in a case; the model's 3 inputs then do not fit it.
    if (s.seed % 11 === 0) {
      body = { dataset: { name: "mnist", split: "test", limit: 1 + (s.seed % 5) } };
    }
    return { url, body };
  },
  trainingJob(s) {
    // Mostly the real model (3 inputs, 2 classes), else a new one from the scenario's sizes.
    const known = s.seed % 3 !== 0;
    const inputs = known ? REAL_MODEL.inputSize : s.sizes[0];
    const classes = known ? REAL_MODEL.outputSize : s.sizes[s.sizes.length - 1];
    const { tensor, labels } = tensors({ ...s, batch: s.batch ?? 2 });
    const data = () => ({ x: tensor([s.batch ?? 2, inputs]), t: labels(classes) });
    const types = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"];
    return {
      url: "/v1/training-jobs",
      body: {
        ...(known ? { modelId: "{model}" } : { model: architecture({ ...s, loss: true }) }),
        data: data(),
        ...(s.oneHot ? { validation: data() } : {}),
        optimizer: { type: types[s.seed % types.length], ...(s.loss ? { lr: 0.1 } : {}) },
        batchSize: 1 + (s.seed % 4),
        ...(s.seed % 5 === 0 ? { epochs: 0.5 + (s.seed % 3) } : { iterations: 1 + (s.seed % 5) }),
        evaluateEvery: 1 + (s.seed % 3),
        seed: s.seed % 100,
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Ways to break them

const big = (n: number, v: Json) => Array.from({ length: n }, () => v);
const DEEP_ARRAY = bury(1, 1000);
let deepObject: Json = 1;
for (let i = 0; i < 1000; i++) deepObject = { a: deepObject };

/** Values of the wrong type, size or kind for any field. */
const nasty: fc.Arbitrary<Json> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom<Json>(
      null,
      true,
      false,
      0,
      -1,
      1.5,
      1e308,
      -1e308,
      5e-324,
      2 ** 53,
      2 ** 53 + 2,
      4294967296,
      "",
      " ",
      "float32",
      "\u0000",
      "☃",
      "😀",
      "\ud800",
      "1",
      [],
      {},
      [[]],
      [null],
      ["1"],
      [[1, 2], [3]],
      [[1], [[2]]],
      { shape: [1e6, 1e6], data: [1] },
      { shape: [1e6, 1e6], dtype: "float32", base64: "AAAA" },
      { shape: [2], data: [1, 2], base64: "AAAA" },
      DEEP_ARRAY,
      deepObject,
      big(5000, 0.5),
      big(70_000, 0.123456),
      "A".repeat(300_000),
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
);

/** Values aimed at one field, by its name. */
const FIELD_VALUES: Record<string, Json[]> = {
  dtype: ["float16", "int32", "FLOAT32", "float32 ", "", "bfloat16", 32],
  shape: [
    [1e6, 1e6],
    [0],
    [-1],
    [1.5],
    [],
    [2 ** 53],
    [1e308],
    [4097],
    [64, 65],
    [1, 1, 1, 1, 1],
    ["2"],
    [[2]],
    big(9, 1),
    [2 ** 31, 2 ** 31],
    [3],
    [2, 2],
  ],
  base64: [
    "!!!!",
    "AAAA",
    "AAA",
    "=AAA",
    "A===",
    "AADAfw==",
    "AACAfw==",
    "AAAAAAAA+H8=",
    "AAAAAAAA8H8=",
    "-_-_",
    "AAAAAA",
    "",
    "AAAA\n",
    "QUJD",
    "AAAAAAAAAAA=",
  ],
  data: [
    [],
    [null],
    ["1"],
    [[1]],
    [1e308, -1e308],
    [0, 0, 0, 0],
    { x: [[1, 2, 3]] },
    { x: [1, 2, 3], t: [0] },
    { x: [[1, 2, 3]], t: [[[0]]] },
  ],
  type: ["tanh", "RELU", "", "__proto__", "constructor", "toString", "affine", "softmaxWithLoss"],
  x: [
    [[1, 2], [3]],
    [],
    [[]],
    [1],
    [[[[[1]]]]],
    5,
    "x",
    [[1e308, -1e308]],
    { shape: [1], dtype: "float32", base64: "AADAfw==" },
    { shape: [1], dtype: "float64", base64: "AAAAAAAA8H8=" },
    { shape: [3], dtype: "float32", base64: "AAAAAAAAAAAAAAAA" },
  ],
  t: [[-1], [1.5], [99], [1e300], [0, 1, 2, 3, 4, 5, 6], [[0.5, 0.5]], [[1, 0, 0]], [[[0]]]],
  dout: [1e308, -1, 0, [1], [[1e308]], "1"],
  W: [[[1, 2]], [[1], [2], [3]], [1, 2], [[[1]]], [[1e38, 1e38]]],
  b: [[1, 2, 3], [[1]], [1e38]],
  layers: [[], [{}], big(300, { type: "relu" }), [{ type: "softmaxWithLoss" }, { type: "relu" }]],
  layer: [{}, { type: "affine" }, [], { type: "relu", W: [[1]] }],
  iterations: [0, -1, 1.5, 1e9, 21, "5", null],
  epochs: [0, -1, 1e308, 5e-324, 1e9, 1e-9],
  batchSize: [0, 1e9, 65, 1.5],
  evaluateEvery: [0, -1, 1e9],
  trainEvaluationSamples: [0, 1e12],
  seed: [-1, 2 ** 32, 1.5, 1e308],
  weightDecay: [-1, 1e308, 1e30],
  lr: [0, -1, 1e308, 5e-324, 1e30],
  momentum: [1, -0.1, 0.999999],
  beta1: [1, -0.1],
  beta2: [1, 0.9999999999],
  decay: [1, 2],
  modelId: ["", "x".repeat(101), "../", "nope", "{finishedJob}"],
  model: [{}, { layers: [{ type: "relu" }] }, { layers: [{ type: "softmaxWithLoss" }] }],
  name: ["", "x".repeat(201), "☃"],
  inputSize: [0, -1, 1.5, 1e9, 2 ** 53, 4096, 4097],
  hiddenSizes: [[0], [], big(33, 1), [1e6], [4096]],
  outputSize: [0, 1, 1e9, 4097],
  activation: ["tanh", ""],
  weightInit: [0, -1, 1e3, 1001, "glorot", "", 5e-324, 1e-300],
  epsilon: [0, -1, 2, 1, 5e-324, 1e-300],
  outputEncoding: ["hex", "", "NESTED"],
  dataset: [
    { name: "mnist", split: "test", limit: 1 },
    { name: "mnist", split: "valid" },
    { name: "cifar", split: "train" },
    { name: "__proto__", split: "train" },
    { name: "mnist", split: "train", limit: 0 },
    { name: "mnist", split: "train", limit: 1e9 },
  ],
  limit: [0, -1, 1e9, 1.5],
  split: ["valid", "TRAIN", ""],
  optimizer: [{ type: "lbfgs" }, { type: "adam", beta1: 1 }, {}, "sgd", { type: "sgd", beta1: 0 }],
  validation: [null, {}, { x: [[1]], t: [0] }],
};

/** A well-formed tensor of some small shape: right for the schema, often wrong for the layer. */
const wellFormedTensor: fc.Arbitrary<Json> = fc
  .record({
    shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
    encoding: fc.constantFrom<Encoding>("nested", "flat", "float32", "float64"),
    fill: fc.constantFrom(0, 1, -1, 0.5, 2, 1e30),
  })
  .map(({ shape, encoding, fill }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    return encode(
      shape,
      Array.from({ length: size }, (_, i) => (i % 2 ? fill : -fill)),
      encoding,
    );
  });

const TENSOR_FIELDS = new Set(["x", "t", "dout", "W", "b"]);

const valueMutation: fc.Arbitrary<ValueMutation> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("drop" as const), at: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), value: nasty }),
  },
  {
    weight: 6,
    arbitrary: fc.constantFrom(...Object.keys(FIELD_VALUES)).chain((key) =>
      fc.record({
        kind: fc.constant("field" as const),
        key: fc.constant(key),
        at: fc.nat(),
        value: fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom(...FIELD_VALUES[key]) },
          { weight: TENSOR_FIELDS.has(key) ? 3 : 0, arbitrary: wellFormedTensor },
          { weight: 1, arbitrary: nasty },
        ),
      }),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("extra" as const),
      at: fc.nat(),
      key: fc.oneof(
        fc.constantFrom("extra", "x", "dtype", "shape", "W", "t", "base64", "data", "type", ""),
        fc.string({ maxLength: 8 }).filter((k) => k !== "__proto__"),
      ),
      value: nasty,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("ragged" as const),
      at: fc.nat(),
      grow: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("bury" as const),
      at: fc.nat(),
      depth: fc.constantFrom(1, 2, 5, 100, 1000),
    }),
  },
);

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("number" as const),
      at: fc.nat(),
      literal: fc.constantFrom(
        "1e999",
        "-1e999",
        "1e-999",
        "-0",
        "NaN",
        "Infinity",
        "-Infinity",
        "0x10",
        "01",
        "1.",
        "+1",
        ".5",
        "1e",
        "9007199254740993",
        "1E+308",
        "3.5e38",
        "-",
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("key" as const),
      at: fc.nat(),
      key: fc.constantFrom(
        "__proto__",
        "constructor",
        "prototype",
        "x",
        "layers",
        "toString",
        "valueOf",
        "hasOwnProperty",
      ),
      value: fc.constantFrom(
        '{"polluted":true}',
        '{"prototype":{"polluted":true}}',
        '{"__proto__":{"polluted":true}}',
        "null",
        "1",
        "[]",
        '"x"',
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
);

const contentType = fc.oneof(
  { weight: 20, arbitrary: fc.constant("application/json") },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "application/json; charset=utf-8",
      "application/json; charset=latin1",
      "Application/JSON",
      "application/problem+json",
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/octet-stream",
      "application/json; charset",
      ";",
      "",
    ),
  },
);

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 200,
});

/** Headers besides the body's: request ids, content codings, versions, keys nobody asked for. */
const headers: fc.Arbitrary<Record<string, string> | undefined> = fc.option(
  fc.dictionary(
    fc.constantFrom(
      "x-request-id",
      "accept",
      "accept-version",
      "content-encoding",
      "authorization",
      "x-forwarded-for",
      "origin",
    ),
    fc.oneof(
      printable,
      fc.constantFrom("gzip", "br", "1.x", "application/xml", "*/*", "Bearer x", "Basic Og=="),
    ),
    { maxKeys: 2 },
  ),
  { nil: undefined, freq: 4 },
);

/** A valid body of `route`, then 0–3 value mutations and 0–2 text mutations. */
function broken(routes: (keyof typeof VALID)[]): fc.Arbitrary<Case> {
  return fc
    .record({
      route: fc.constantFrom(...routes),
      scenario,
      values: fc.oneof(
        { weight: 2, arbitrary: fc.constant<ValueMutation[]>([]) },
        { weight: 3, arbitrary: fc.array(valueMutation, { minLength: 1, maxLength: 3 }) },
      ),
      texts: fc.oneof(
        { weight: 4, arbitrary: fc.constant<TextMutation[]>([]) },
        { weight: 1, arbitrary: fc.array(textMutation, { minLength: 1, maxLength: 2 }) },
      ),
      contentType,
      headers,
    })
    .map(({ route, scenario: s, values, texts, contentType, headers }): Case => {
      const { url, body } = VALID[route](s);
      const mutated = values.reduce<Json>(mutateValue, body);
      const text = texts.reduce<string>(mutateText, JSON.stringify(mutated));
      return { method: "POST", url, body: text, contentType, headers };
    });
}

// ---------------------------------------------------------------------------------------------
// URLs: ids and query strings

const id = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("{model}", "{created}", "{finishedJob}", "{job}") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "nope",
      "%ZZ",
      "%",
      "%E0%A4%A",
      "%C0%AF",
      "..",
      "%2e%2e",
      "%00",
      "%2F",
      "a%20b",
      "x".repeat(101),
      "x".repeat(5000),
      "%F0%9F%98%80",
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "null",
      "'%20OR%201=1--",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 30 }).map(encodeURIComponent),
  },
);

const queryValue = fc.oneof(
  fc.constantFrom(
    "1",
    "100",
    "101",
    "0",
    "-1",
    "1e2",
    "1.5",
    "abc",
    "",
    "%ZZ",
    "Infinity",
    "NaN",
    "0x10",
    "nested",
    "flat",
    "base64",
    "hex",
    Buffer.from(JSON.stringify(["2024-01-01T00:00:00.000Z", "x"])).toString("base64url"),
    Buffer.from(JSON.stringify([1, 2])).toString("base64url"),
    Buffer.from(JSON.stringify({ a: 1 })).toString("base64url"),
    Buffer.from(JSON.stringify(["", ""])).toString("base64url"),
    Buffer.from("not json").toString("base64url"),
    "x".repeat(600),
  ),
  fc.string({ unit: "binary", maxLength: 20 }).map(encodeURIComponent),
);

const query = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom("limit", "cursor", "encoding", "x", "__proto__", "constructor", "limit[]"),
        fc.string({ maxLength: 6 }).map(encodeURIComponent),
      ),
      queryValue,
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}` : ""));

const readCase: fc.Arbitrary<Case> = fc.oneof(
  query.map((q): Case => ({ method: "GET", url: `/v1/models${q}` })),
  query.map((q): Case => ({ method: "GET", url: `/v1/training-jobs${q}` })),
  fc.tuple(id, query).map(([i, q]): Case => ({ method: "GET", url: `/v1/models/${i}${q}` })),
  fc
    .tuple(id, query)
    .map(([i, q]): Case => ({ method: "GET", url: `/v1/models/${i}/parameters${q}` })),
  // The real model stays: the cases after this one need it.
  id
    .filter((i) => i !== "{model}")
    .map((i): Case => ({ method: "DELETE", url: `/v1/models/${i}` })),
  fc.tuple(id, query).map(([i, q]): Case => ({ method: "GET", url: `/v1/training-jobs/${i}${q}` })),
  id.map((i): Case => ({ method: "POST", url: `/v1/training-jobs/${i}/cancel` })),
  // A running job's event stream stays open: only ids of finished or unknown jobs here.
  fc
    .tuple(fc.constantFrom<Case["method"]>("GET", "HEAD"), id)
    .filter(([, i]) => i !== "{job}")
    .map(([method, i]): Case => ({ method, url: `/v1/training-jobs/${i}/events` })),
  fc
    .tuple(fc.constantFrom("/v1/models", "/v1/models/{model}", "/v1/datasets", "/healthz"), query)
    .map(([url, q]): Case => ({ method: "HEAD", url: `${url}${q}` })),
);

// ---------------------------------------------------------------------------------------------
// Bodies that owe nothing to the valid ones

const POST_URLS = [
  "/v1/layers/forward",
  "/v1/layers/backward",
  "/v1/networks/forward",
  "/v1/networks/backward",
  "/v1/networks/gradient-check",
  "/v1/models",
  "/v1/models/{model}/predict",
  "/v1/models/{model}/evaluate",
  "/v1/models/nope/predict",
  "/v1/training-jobs",
];

const KEYS = ["layer", "layers", "x", "t", "dout", "dtype", "outputEncoding", "epsilon", "model"];

/** fc.jsonValue, fc.anything as JSON, and objects with the right keys but any values. */
const arbitraryJson: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom(...POST_URLS),
    fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.anything({ withBigInt: false }).map((v) => JSON.stringify(v) ?? "null"),
      fc
        .dictionary(fc.constantFrom(...KEYS, "modelId", "data", "architecture"), fc.jsonValue(), {
          maxKeys: 5,
        })
        .map((v) => JSON.stringify(v)),
    ),
  )
  .map(([url, body]): Case => ({ method: "POST", url, body, contentType: "application/json" }));

const validText = JSON.stringify({ layer: { type: "relu" }, x: [[1, -1]] });

/** Text that is not JSON, sent as application/json. */
const notJson: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom(...POST_URLS),
    fc.oneof(
      fc.string({ unit: "binary" }),
      fc.string({ unit: "grapheme-ascii" }),
      fc.constantFrom(
        "",
        " ",
        "\uFEFF{}",
        `\uFEFF${validText}`,
        `${validText}garbage`,
        `${validText}${validText}`,
        "{'a': 1}",
        '{"a": 1,}',
        "[1, 2,]",
        "// comment\n{}",
        "NaN",
        "Infinity",
        "undefined",
        '"\\ud800"',
        '{"a": "\\u00"}',
        "[".repeat(100_000),
        `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
        `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`,
        "\u0000",
      ),
      fc.nat().map((n) => validText.slice(0, n % validText.length)),
    ),
  )
  .map(([url, body]): Case => ({ method: "POST", url, body, contentType: "application/json" }));

/** Methods and routes that do not go together. */
const wrongMethod: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom<Case["method"]>("GET", "PUT", "PATCH", "DELETE", "OPTIONS"),
    fc.constantFrom(...POST_URLS, "/v1/models/{model}/parameters", "/v1/nothing", "/v1"),
  )
  .map(
    ([method, url]): Case => ({ method, url, body: validText, contentType: "application/json" }),
  );

const withHeaders = (cases: fc.Arbitrary<Case>) =>
  fc.tuple(cases, headers).map(([c, h]): Case => (h ? { ...c, headers: h } : c));

// ---------------------------------------------------------------------------------------------
// Request targets that reach a guarded route the long way round

/** Routes behind a key, each with a body it would answer 2xx to. */
const GUARDED = [
  { method: "GET", path: "/v1/models" },
  { method: "GET", path: "/v1/training-jobs" },
  { method: "GET", path: "/v1/datasets" },
  { method: "POST", path: "/v1/layers/forward", body: validText },
  { method: "GET", path: "/metrics" },
];

interface Disguise {
  method: string;
  target: string;
  body?: string;
  authorization?: string;
}

/** Absolute-form targets, percent-encoded letters, suffixes; and no valid key. */
const disguised: fc.Arbitrary<Disguise> = fc
  .record({
    route: fc.constantFrom(...GUARDED),
    origin: fc.constantFrom("", "", "http://evil", "http://127.0.0.1:1", "https://x"),
    encode: fc.array(fc.nat(), { maxLength: 3 }),
    lowerHex: fc.boolean(),
    suffix: fc.constantFrom("", "", "?", "?a=1", "/", ";x", "%20", "/.", "#x"),
    authorization: fc.constantFrom(
      undefined,
      "Bearer wrong-key-000001",
      "Bearer",
      "Bearer ",
      "Basic Og==",
      "fuzz-key-00000001",
      "Bearer fuzz-key-00000001 x",
    ),
  })
  .map(({ route, origin, encode, lowerHex, suffix, authorization }): Disguise => {
    const chars = [...route.path];
    const letters = chars.flatMap((c, i) => (/[A-Za-z0-9]/.test(c) ? [i] : []));
    for (const n of encode) {
      const i = letters[n % letters.length];
      const hex = chars[i].charCodeAt(0).toString(16);
      if (chars[i].length === 1) chars[i] = `%${lowerHex ? hex : hex.toUpperCase()}`;
    }
    return { ...route, target: `${origin}${chars.join("")}${suffix}`, authorization };
  });

/** One request with its target exactly as given, which supertest would normalise. */
function rawRequest(port: number, d: Disguise): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method: d.method,
        path: d.target,
        headers: {
          ...(d.body ? { "content-type": "application/json" } : {}),
          ...(d.authorization ? { authorization: d.authorization } : {}),
        },
        timeout: 10_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"] ?? ""),
            text,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(d.body);
  });
}

// ---------------------------------------------------------------------------------------------

const FUZZ_TIMEOUT = 60_000 + RUNS * 50;

describe(`fuzzing every route (${RUNS} cases, seed ${SEED})`, () => {
  it(
    "stateless compute: broken layer and network bodies",
    () =>
      fuzz(
        0.3,
        0,
        broken([
          "layersForward",
          "layersBackward",
          "networksForward",
          "networksBackward",
          "gradientCheck",
        ]),
      ),
    FUZZ_TIMEOUT,
  );

  it(
    "models: broken create, predict and evaluate bodies",
    () => fuzz(0.15, 1, broken(["createModel", "predict", "evaluate"])),
    FUZZ_TIMEOUT,
  );

  it("training jobs: broken bodies", () => fuzz(0.1, 2, broken(["trainingJob"])), FUZZ_TIMEOUT);

  it(
    "ids, query strings and methods",
    () => fuzz(0.15, 3, withHeaders(fc.oneof(readCase, wrongMethod))),
    FUZZ_TIMEOUT,
  );

  it("arbitrary JSON", () => fuzz(0.15, 4, arbitraryJson), FUZZ_TIMEOUT);

  it("text that is not JSON", () => fuzz(0.1, 5, notJson), FUZZ_TIMEOUT);

  it(
    "request targets: no guarded route answers 2xx without its key",
    async () => {
      const guarded = await testApp({
        DATA_DIR: tempDir(),
        API_KEYS: "fuzz:fuzz-key-00000001",
        METRICS_KEY: "metrics-key-0123456789",
      });
      try {
        await guarded.listen({ port: 0, host: "127.0.0.1" });
        const { port } = guarded.server.address() as AddressInfo;
        await fc.assert(
          fc.asyncProperty(disguised, async (d) => {
            const res = await rawRequest(port, d);
            const where = `${d.method} ${d.target} (${d.authorization ?? "no key"})`;
            if (res.status < 300) throw new Error(`${where} got past the key check: ${res.status}`);
            judge(where, res);
          }),
          { numRuns: runs(0.05), seed: SEED + 6 },
        );
      } finally {
        await guarded.close();
      }
    },
    FUZZ_TIMEOUT,
  );

  it("leaves no training job stuck, and none crashed its worker", async () => {
    const crashed: string[] = [];
    for (const job of ids.jobs) {
      const done = await waitForJob(app.server, job, undefined, 30_000);
      if (/crashed/.test(done.error?.message ?? "")) {
        crashed.push(`${JSON.stringify(done.error)} after POST ${jobBodies.get(job)}`);
      }
    }
    expect(crashed).toEqual([]);
  }, 120_000);

  it("left Object.prototype alone", () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
