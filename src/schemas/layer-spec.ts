import { z } from "zod";
import type { Limits } from "../config.js";
import { DType, Encoding, TensorOut, tensorIn } from "./tensor.js";

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

export function layerList(limits: Limits) {
  return z.array(layerSpec(limits)).min(1).max(MAX_LAYERS);
}

/** Fields every compute body shares. */
export function computeFields(limits: Limits) {
  const tensor = tensorIn(limits);
  return {
    x: tensor.meta({ description: "Input; the first axis is the batch" }),
    dtype: DType.default("float32"),
    outputEncoding: Encoding.optional(),
    t: tensor
      .meta({ description: "Labels: one-hot (the scores' shape) or class indices of length N" })
      .optional(),
  };
}

export const Grad = z.object({ W: TensorOut, b: TensorOut });
export { TensorOut };
