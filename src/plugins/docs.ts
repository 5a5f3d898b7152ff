import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { jsonSchemaTransform, jsonSchemaTransformObject } from "fastify-type-provider-zod";
import { finishDocument } from "../http/openapi-document.js";

export const OPENAPI_INFO = {
  title: "backprop service",
  description:
    "Forward and backward passes of the layers of Deep Learning from Scratch (ch. 5), networks, " +
    "gradient checks, models and training jobs. Tensors travel as nested arrays, flat " +
    "`{shape, data}` or binary `{shape, dtype, base64}`. Errors are `application/problem+json` " +
    "(RFC 9457) with a stable `code`; a method a path has no operation for is `405` with `Allow`.",
  version: "0.1.0",
};

/** The OpenAPI document, generated from the routes' Zod schemas, at /openapi.json and /docs. */
export default fp(
  async function docs(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: { openapi: "3.1.0", info: OPENAPI_INFO },
      transform: jsonSchemaTransform,
      transformObject: (document) =>
        finishDocument(jsonSchemaTransformObject(document) as Record<string, unknown>) as never,
    });
    await app.register(swaggerUi, {
      routePrefix: "/docs",
      uiConfig: { persistAuthorization: true },
    });
    app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  },
  { name: "docs" },
);
