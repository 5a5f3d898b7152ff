import { z } from "zod";
import type { Limits } from "../config.js";
import { computeFields, Grad, layerSpec, TensorOut, withDtype } from "./layer-spec.js";
import { numberOrTensorIn } from "./tensor.js";

export function layerSchemas(limits: Limits) {
  const layer = layerSpec(limits);
  const fields = computeFields(limits);
  return {
    forwardBody: z.strictObject({ layer, ...fields }).transform(withDtype),
    backwardBody: z
      .strictObject({
        layer,
        ...fields,
        dout: numberOrTensorIn(limits).optional().meta({
          description:
            "Gradient of the output; required except for softmaxWithLoss, where it is a scalar (default 1)",
        }),
      })
      .transform(withDtype),
  };
}

export const LayerForwardResponse = z.object({
  out: TensorOut,
  loss: z.number().optional(),
});

export const LayerBackwardResponse = z.object({
  out: TensorOut,
  dx: TensorOut,
  grads: Grad.optional().meta({ description: "dW and db, for affine layers" }),
  loss: z.number().optional(),
});
