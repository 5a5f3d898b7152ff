import { z } from "zod";
import type { Limits } from "../config.js";
import type { DType } from "../core/tensor.js";
import { sizeOf } from "../core/tensor.js";
import { DType as DTypeSchema, Encoding, TensorOut, tensorIn } from "./tensor.js";

export function layerSpec(limits: Limits) {
  const tensor = tensorIn(limits);
  return z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("relu") }),
    z.strictObject({ type: z.literal("sigmoid") }),
    z.strictObject({
      type: z.literal("affine"),
      W: tensor.meta({ description: "Weights, shape [inputs, outputs]" }),
      b: tensor.meta({ description: "Biases, shape [outputs]" }),
    }),
    z.strictObject({ type: z.literal("softmaxWithLoss") }),
  ]);
}

export const MAX_LAYERS = 256;

type Spec = z.output<ReturnType<typeof layerSpec>>;

/** W and b elements of the layers, from their shapes (nothing is decoded for this). */
export const parameterCount = (layers: readonly Spec[]) =>
  layers.reduce((n, l) => (l.type === "affine" ? n + sizeOf(l.W.shape) + sizeOf(l.b.shape) : n), 0);

export function layerList(limits: Limits) {
  return z
    .array(layerSpec(limits))
    .min(1)
    .max(MAX_LAYERS)
    .superRefine((layers, ctx) => {
      layers.forEach((layer, i) => {
        if (layer.type === "softmaxWithLoss" && i !== layers.length - 1) {
          ctx.addIssue({
            code: "custom",
            path: [i, "type"],
            message: `softmaxWithLoss must be the last layer, but ${layers.length - 1 - i} layer(s) follow it`,
          });
        }
      });
      const count = parameterCount(layers);
      if (count > limits.maxModelParameters) {
        ctx.addIssue({
          code: "custom",
          path: [],
          message: `the layers hold ${count} parameters, over the limit of ${limits.maxModelParameters} (MAX_MODEL_PARAMETERS)`,
        });
      }
    });
}

/** Fields every compute body shares. */
export function computeFields(limits: Limits) {
  const tensor = tensorIn(limits);
  return {
    x: tensor.meta({ description: "Input; the first axis is the batch" }),
    dtype: DTypeSchema.optional().meta({
      description:
        "Arithmetic type of the request; by default float64 when a base64 tensor of the request is float64 (float32 would drop its digits), else float32",
    }),
    outputEncoding: Encoding.optional(),
    t: tensor
      .meta({ description: "Labels: one-hot (the scores' shape) or class indices of length N" })
      .optional(),
  };
}

export const Grad = z.object({ W: TensorOut, b: TensorOut });
export { TensorOut };

/** True when a base64 tensor among `value`'s fields (layers included) is float64. */
function holdsFloat64(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== "object" || depth > 3) return false;
  if ("encoding" in value && value.encoding === "base64") {
    return (value as { dtype?: unknown }).dtype === "float64";
  }
  if ("shape" in value) return false;
  return Object.values(value).some((v) => holdsFloat64(v, depth + 1));
}

/** A compute body with its dtype settled: as asked, else as its base64 tensors are (see above). */
export function withDtype<T extends { dtype?: DType }>(body: T): T & { dtype: DType } {
  return { ...body, dtype: body.dtype ?? (holdsFloat64(body) ? "float64" : "float32") };
}
