/**
 * Ways to break a valid body: values of the wrong type, size or kind (for any field, or aimed at
 * one field by its name), mutations of the parsed value and of the JSON text, odd content types
 * and headers.
 */
import fc from "fast-check";
import {
  bury,
  type Json,
  mutateText,
  mutateValue,
  type TextMutation,
  type ValueMutation,
} from "../json-mutation.js";
import type { Case } from "./case.js";
import { type Encoding, encode, scenario, VALID } from "./valid-bodies.js";

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
export const headers: fc.Arbitrary<Record<string, string> | undefined> = fc.option(
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
export function broken(routes: (keyof typeof VALID)[]): fc.Arbitrary<Case> {
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
