import type { FastifyInstance } from "fastify";
import type { Config } from "../../config.js";
import { validationFailed } from "../../http/problem.js";
import { LayerBackwardResponse, LayerForwardResponse, layerSchemas } from "../../schemas/layers.js";
import { passRoutes } from "./passes.js";

export default async function layerRoutes(app: FastifyInstance, { config }: { config: Config }) {
  const schemas = layerSchemas(config.limits);
  passRoutes(app, {
    resource: "layers",
    operation: "layer",
    forward: {
      summary: "Forward pass of one layer",
      body: schemas.forwardBody,
      response: LayerForwardResponse,
    },
    backward: {
      summary: "Forward and backward pass of one layer",
      body: schemas.backwardBody,
      response: LayerBackwardResponse,
    },
    layers: ({ layer }) => ({ layers: [layer], layerPath: "layer" }),
    checkBackward({ layer, t, dout }) {
      if (layer.type === "softmaxWithLoss") {
        if (!t) throw validationFailed([{ path: "t", message: "softmaxWithLoss needs labels" }]);
        if (dout !== undefined && typeof dout !== "number") {
          throw validationFailed([{ path: "dout", message: "is a scalar for softmaxWithLoss" }]);
        }
      } else if (dout === undefined || typeof dout === "number") {
        throw validationFailed([
          { path: "dout", message: `a ${layer.type} layer needs a dout tensor` },
        ]);
      }
    },
    // One layer: its {W, b}, or nothing for a layer without parameters.
    grads: ([grads]) => grads ?? undefined,
  });
}
