import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { pacedBody } from "../../http/paced-body.js";
import { notFound } from "../../http/problem.js";
import { OPENAPI_INFO } from "../../plugins/docs.js";
import { IdParams } from "../../schemas/models.js";
import { ProblemSchema } from "../../schemas/problem.js";

/** A name that is safe inside a quoted content-disposition filename. */
const fileName = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 100) || "model";

export default async function modelOnnxRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get(
    "/v1/models/:id/onnx",
    {
      schema: {
        summary:
          "The model as ONNX (IR 8, opset 13): input x [N, inputSize], output probabilities [N, outputSize]",
        operationId: "exportModelOnnx",
        tags: ["models"],
        params: IdParams,
        produces: ["application/onnx"],
        response: {
          200: z.unknown().meta({ description: "An ONNX ModelProto (protobuf bytes)" }),
          404: ProblemSchema,
        },
      },
    },
    async (request, reply) => {
      const model = await app.store.models.get(request.params.id, request.tenant);
      if (!model) throw notFound("model", request.params.id);
      // Streamed (streamOnnx): the parameters go out as views of their own bytes, a turn apart.
      // Loaded on the first export: protobuf's runtime is megabytes of heap.
      const { streamOnnx } = await import("../../onnx/export.js");
      const onnx = streamOnnx(model, OPENAPI_INFO.version);
      return reply
        .type("application/onnx")
        .header(
          "content-disposition",
          `attachment; filename="${fileName(model.name ?? model.id)}.onnx"`,
        )
        .header("content-length", onnx.byteLength)
        .send(pacedBody(onnx.chunks()));
    },
  );
}
