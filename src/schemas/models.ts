import { z } from "zod";
import type { Limits } from "../config.js";
import { layerList } from "./layer-spec.js";
import { PageQuery, pageOf } from "./page.js";
import { DType, Encoding, TensorOut, tensorIn } from "./tensor.js";

const size = z.int().min(1);

export const Architecture = z.strictObject({
  inputSize: size,
  hiddenSizes: z.array(size).max(32),
  outputSize: size,
  activation: z.enum(["relu", "sigmoid"]),
  weightInit: z
    .union([z.enum(["he", "xavier"]), z.number().positive().max(1e3)], {
      error: 'expected "he", "xavier", or the standard deviation as a number in (0, 1000]',
    })
    .meta({ description: "he: sqrt(2/fan_in), xavier: sqrt(1/fan_in), or the std itself" }),
});
export type Architecture = z.infer<typeof Architecture>;

const name = z.string().min(1).max(200).optional();
const seed = z
  .int()
  .min(0)
  .max(2 ** 32 - 1)
  .meta({ description: "Seed of the initial parameters; the same seed gives the same bits" });

export function createModelBody(limits: Limits) {
  const fromArchitecture = z
    .strictObject({
      name,
      dtype: DType.default("float32"),
      seed: seed.default(0),
      architecture: Architecture,
    })
    .superRefine(({ architecture }, ctx) => {
      const sizes = [architecture.inputSize, ...architecture.hiddenSizes, architecture.outputSize];
      let parameters = 0;
      for (let i = 1; i < sizes.length; i++) {
        parameters += sizes[i - 1] * sizes[i] + sizes[i];
        if (sizes[i - 1] * sizes[i] > limits.maxTensorElements) {
          ctx.addIssue({
            code: "custom",
            path:
              i === sizes.length - 1
                ? ["architecture", "outputSize"]
                : ["architecture", "hiddenSizes", i - 1],
            message: `affine layer ${i - 1} would hold ${sizes[i - 1]}×${sizes[i]} weights, over the limit of ${limits.maxTensorElements} elements per tensor`,
          });
        }
      }
      if (parameters > limits.maxModelParameters) {
        ctx.addIssue({
          code: "custom",
          path: ["architecture"],
          message: `the model would hold ${parameters} parameters, over the limit of ${limits.maxModelParameters} (MAX_MODEL_PARAMETERS)`,
        });
      }
      if (architecture.outputSize < 2) {
        ctx.addIssue({
          code: "custom",
          path: ["architecture", "outputSize"],
          message: "must be at least 2: the softmax over a single class is always 1",
        });
      }
    });
  const fromLayers = z
    .strictObject({
      name,
      dtype: DType.default("float32"),
      layers: layerList(limits),
    })
    .superRefine(({ layers }, ctx) => {
      const last = layers.length - 1;
      if (layers[last].type !== "softmaxWithLoss") {
        ctx.addIssue({
          code: "custom",
          path: ["layers", last],
          message:
            "a model is a classifier: its last layer must be softmaxWithLoss (its outputs are the probabilities predict returns)",
        });
      }
      if (!layers.some((layer) => layer.type === "affine")) {
        ctx.addIssue({
          code: "custom",
          path: ["layers"],
          message: "a model needs at least one affine layer (it has no parameters otherwise)",
        });
      }
    });
  return z.union([fromArchitecture, fromLayers], {
    error: "expected {architecture, seed?, dtype?, name?} or {layers, dtype?, name?}",
  });
}

const LayerSummary = z.object({
  type: z.enum(["relu", "sigmoid", "affine", "softmaxWithLoss"]),
  W: z.object({ shape: z.array(z.int()) }).optional(),
  b: z.object({ shape: z.array(z.int()) }).optional(),
});

export const ModelSummary = z
  .object({
    id: z.string(),
    name: z.string().nullable(),
    dtype: DType,
    layers: z.array(LayerSummary),
    inputSize: z.int().nullable(),
    outputSize: z.int().nullable(),
    parameterCount: z.int(),
    origin: z
      .object({
        kind: z.enum(["architecture", "layers", "training"]),
        architecture: Architecture.optional(),
        seed: z.int().optional(),
        jobId: z.string().optional(),
        sourceModelId: z.string().optional(),
        dataset: z.unknown().optional(),
        metrics: z.unknown().optional(),
      })
      .meta({
        description:
          "Where the model came from: an architecture, explicit layers, or a training job",
      }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "ModelSummary" });

export const ModelPage = pageOf(ModelSummary);
export { PageQuery };

export const IdParams = z.strictObject({ id: z.string().min(1).max(100) });

export const ParametersQuery = z.strictObject({ encoding: Encoding.default("nested") });

export const ModelParameters = z.object({
  dtype: DType,
  layers: z.array(
    z.object({
      type: z.enum(["relu", "sigmoid", "affine", "softmaxWithLoss"]),
      W: TensorOut.optional(),
      b: TensorOut.optional(),
    }),
  ),
});

export const DatasetRef = z.strictObject({
  name: z.string().min(1),
  split: z.enum(["train", "test"]),
  limit: z.int().min(1).optional(),
});

export function predictBody(limits: Limits) {
  return z.strictObject({ x: tensorIn(limits), outputEncoding: Encoding.optional() });
}

export const PredictResponse = z.object({
  probabilities: TensorOut,
  labels: z.union([z.array(z.int()), z.int()]).meta({ description: "argmax per sample" }),
});

export function evaluateBody(limits: Limits) {
  return z.union(
    [
      z.strictObject({ x: tensorIn(limits), t: tensorIn(limits) }),
      z.strictObject({ dataset: DatasetRef }),
    ],
    { error: "expected {x, t} or {dataset: {name, split, limit?}}" },
  );
}

export const EvaluateResponse = z.object({
  loss: z.number(),
  accuracy: z.number(),
  count: z.int(),
});
