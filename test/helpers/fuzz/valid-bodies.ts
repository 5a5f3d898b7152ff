/**
 * Request bodies each POST route accepts, drawn from a small random scenario (sizes, batch,
 * encodings, dtype, scale): the starting points the fuzzer then breaks.
 */
import fc from "fast-check";
import type { Json } from "../json-mutation.js";
import { seeded } from "../tensors.js";

export type Encoding = "nested" | "flat" | "float32" | "float64";

export interface Scenario {
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

export const scenario: fc.Arbitrary<Scenario> = fc.record({
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

export function encode(shape: number[], values: number[], encoding: Encoding): Json {
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

export const REAL_MODEL = {
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
export const VALID: Record<string, (s: Scenario) => { url: string; body: Record<string, Json> }> = {
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
