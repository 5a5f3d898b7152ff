import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Config } from "../../config.js";
import { validationFailed } from "../../http/problem.js";
import { encodeTensor } from "../../http/tensor-codec.js";
import {
  GradientCheckResponse,
  NetworkBackwardResponse,
  NetworkForwardResponse,
  networkSchemas,
} from "../../schemas/networks.js";
import { computeProblems } from "../../schemas/problem.js";

export default async function networkRoutes(app: FastifyInstance, { config }: { config: Config }) {
  const schemas = networkSchemas(config.limits);
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    "/v1/networks/forward",
    {
      schema: {
        summary: "Forward pass of a network",
        operationId: "networkForward",
        tags: ["networks"],
        body: schemas.forwardBody,
        response: { 200: NetworkForwardResponse, ...computeProblems },
      },
    },
    async (request, reply) => {
      const { layers, x, t, dtype, outputEncoding = x.encoding } = request.body;
      const result = await app.compute(reply, "forward", {
        dtype,
        layers,
        x,
        t,
        encoding: outputEncoding,
      });
      return { out: encodeTensor(result.out, outputEncoding), loss: result.loss };
    },
  );

  routes.post(
    "/v1/networks/backward",
    {
      schema: {
        summary: "Loss, output, input gradient and every parameter gradient of a network",
        operationId: "networkBackward",
        tags: ["networks"],
        body: schemas.backwardBody,
        response: { 200: NetworkBackwardResponse, ...computeProblems },
      },
    },
    async (request, reply) => {
      const { layers, x, t, dout, dtype, outputEncoding = x.encoding } = request.body;
      const hasLoss = layers[layers.length - 1].type === "softmaxWithLoss";
      if (hasLoss && !t) {
        throw validationFailed([
          { path: "t", message: "a network ending in softmaxWithLoss needs labels" },
        ]);
      }
      if (!hasLoss && !dout) {
        throw validationFailed([
          { path: "dout", message: "a network without a loss layer needs dout" },
        ]);
      }
      const result = await app.compute(reply, "backward", {
        dtype,
        layers,
        x,
        t,
        dout,
        encoding: outputEncoding,
      });
      return {
        loss: result.loss,
        out: encodeTensor(result.out, outputEncoding),
        dx: encodeTensor(result.dx, outputEncoding),
        grads: result.grads.map((g) =>
          g ? { W: encodeTensor(g.W, outputEncoding), b: encodeTensor(g.b, outputEncoding) } : null,
        ),
      };
    },
  );

  routes.post(
    "/v1/networks/gradient-check",
    {
      schema: {
        summary: "Backprop gradients against central differences, per parameter",
        operationId: "networkGradientCheck",
        tags: ["networks"],
        body: schemas.gradientCheckBody,
        response: { 200: GradientCheckResponse, ...computeProblems },
      },
    },
    async (request, reply) => {
      const { layers, x, t, dtype, epsilon } = request.body;
      if (layers[layers.length - 1].type !== "softmaxWithLoss") {
        throw validationFailed([
          {
            path: `layers[${layers.length - 1}]`,
            message: "a gradient check needs a final softmaxWithLoss",
          },
        ]);
      }
      const parameters = await app.compute(reply, "gradientCheck", {
        dtype,
        layers,
        x,
        t,
        epsilon,
      });
      return { dtype, epsilon, parameters };
    },
  );
}
