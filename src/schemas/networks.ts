import { z } from "zod";
import type { Limits } from "../config.js";
import { computeFields, Grad, layerList, TensorOut, withDtype } from "./layer-spec.js";
import { tensorIn } from "./tensor.js";

export function networkSchemas(limits: Limits) {
  const layers = layerList(limits);
  const fields = computeFields(limits);
  return {
    forwardBody: z.strictObject({ layers, ...fields }).transform(withDtype),
    backwardBody: z
      .strictObject({
        layers,
        ...fields,
        dout: tensorIn(limits)
          .optional()
          .meta({ description: "Gradient of the output, for a network without a loss layer" }),
      })
      .superRefine(({ layers, dout }, ctx) => {
        if (dout !== undefined && layers[layers.length - 1].type === "softmaxWithLoss") {
          ctx.addIssue({
            code: "custom",
            path: ["dout"],
            message:
              "a network ending in softmaxWithLoss backpropagates from its loss: send t, not dout",
          });
        }
      })
      .transform(withDtype),
    gradientCheckBody: z.strictObject({
      layers,
      x: fields.x,
      t: tensorIn(limits).meta({ description: "Labels, as for softmaxWithLoss" }),
      dtype: z.enum(["float32", "float64"]).default("float64"),
      epsilon: z
        .number()
        .positive()
        .max(1)
        .default(1e-4)
        .meta({ description: "Central-difference step h" }),
    }),
  };
}

export const NetworkForwardResponse = z.object({
  out: TensorOut.meta({
    description: "Scores, or probabilities when the last layer is softmaxWithLoss",
  }),
  loss: z.number().optional(),
});

export const NetworkBackwardResponse = z.object({
  loss: z.number().optional(),
  out: TensorOut,
  dx: TensorOut,
  grads: z
    .array(Grad.nullable())
    .meta({ description: "{W, b} per affine layer, null for the others" }),
});

export const GradientCheckResponse = z.object({
  dtype: z.enum(["float32", "float64"]),
  epsilon: z.number(),
  parameters: z.array(
    z.object({
      layer: z.int(),
      name: z.enum(["W", "b"]),
      maxAbsDiff: z.number(),
      meanAbsDiff: z.number(),
      maxRelError: z.number(),
    }),
  ),
});
