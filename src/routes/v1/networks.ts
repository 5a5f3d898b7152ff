import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Config } from "../../config.js";
import { validationFailed } from "../../http/problem.js";
import {
  GradientCheckResponse,
  NetworkBackwardResponse,
  NetworkForwardResponse,
  networkSchemas,
} from "../../schemas/networks.js";
import { computeProblems } from "../../schemas/problem.js";
import { passRoutes } from "./passes.js";

export default async function networkRoutes(app: FastifyInstance, { config }: { config: Config }) {
  const schemas = networkSchemas(config.limits);
  const routes = app.withTypeProvider<ZodTypeProvider>();

  passRoutes(app, {
    resource: "networks",
    operation: "network",
    forward: {
      summary: "Forward pass of a network",
      body: schemas.forwardBody,
      response: NetworkForwardResponse,
    },
    backward: {
      summary: "Loss, output, input gradient and every parameter gradient of a network",
      body: schemas.backwardBody,
      response: NetworkBackwardResponse,
    },
    layers: ({ layers }) => ({ layers }),
    checkBackward({ layers, t, dout }) {
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
    },
    grads: (grads) => grads,
  });

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
