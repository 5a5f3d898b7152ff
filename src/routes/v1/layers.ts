import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Config } from "../../config.js";
import { validationFailed } from "../../http/problem.js";
import { encodeTensor } from "../../http/tensor-codec.js";
import { LayerBackwardResponse, LayerForwardResponse, layerSchemas } from "../../schemas/layers.js";
import { computeProblems } from "../../schemas/problem.js";

export default async function layerRoutes(app: FastifyInstance, { config }: { config: Config }) {
  const schemas = layerSchemas(config.limits);
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    "/v1/layers/forward",
    {
      schema: {
        summary: "Forward pass of one layer",
        operationId: "layerForward",
        tags: ["layers"],
        body: schemas.forwardBody,
        response: { 200: LayerForwardResponse, ...computeProblems },
      },
    },
    async (request, reply) => {
      const { layer, x, t, dtype, outputEncoding = x.encoding } = request.body;
      const result = await app.compute(reply, "forward", {
        dtype,
        layers: [layer],
        layerPath: "layer",
        x,
        t,
        encoding: outputEncoding,
      });
      return { out: encodeTensor(result.out, outputEncoding), loss: result.loss };
    },
  );

  routes.post(
    "/v1/layers/backward",
    {
      schema: {
        summary: "Forward and backward pass of one layer",
        operationId: "layerBackward",
        tags: ["layers"],
        body: schemas.backwardBody,
        response: { 200: LayerBackwardResponse, ...computeProblems },
      },
    },
    async (request, reply) => {
      const { layer, x, t, dout, dtype, outputEncoding = x.encoding } = request.body;
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
      const result = await app.compute(reply, "backward", {
        dtype,
        layers: [layer],
        layerPath: "layer",
        x,
        t,
        dout,
        encoding: outputEncoding,
      });
      const grads = result.grads[0];
      return {
        out: encodeTensor(result.out, outputEncoding),
        dx: encodeTensor(result.dx, outputEncoding),
        grads: grads
          ? { W: encodeTensor(grads.W, outputEncoding), b: encodeTensor(grads.b, outputEncoding) }
          : undefined,
        loss: result.loss,
      };
    },
  );
}
