import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Tensor } from "../../core/tensor.js";
import { ProblemError, validationFailed } from "../../http/problem.js";

export const ONNX_TYPES = ["application/onnx", "application/octet-stream"];

/**
 * POST /v1/models with an ONNX body: the file is read into the body a JSON caller would send,
 * `{name, dtype, layers}` with base64 parameters, so that it meets the same schema, limits,
 * tenancy and worker as any other new model. The name comes from `?name=`.
 */
export function addOnnxBodyParser(app: FastifyInstance): void {
  app.addContentTypeParser(
    ONNX_TYPES,
    { parseAs: "buffer" },
    async (request: FastifyRequest, body: Buffer) => {
      if (request.routeOptions.url !== "/v1/models" || request.method !== "POST") {
        throw new ProblemError(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json");
      }
      // Loaded on the first ONNX body: protobuf's runtime and ONNX's messages are megabytes of heap.
      const { importOnnx, OnnxImportError } = await import("../../onnx/import.js");
      try {
        const { dtype, layers } = importOnnx(body);
        const name = (request.query as { name?: unknown }).name;
        return {
          ...(name === undefined ? {} : { name }),
          dtype,
          layers: layers.map((layer) =>
            layer.type === "affine"
              ? { type: "affine", W: base64(layer.W, dtype), b: base64(layer.b, dtype) }
              : layer,
          ),
        };
      } catch (error) {
        if (!(error instanceof OnnxImportError)) throw error;
        throw validationFailed([
          { path: error.path ? `onnx.${error.path}` : "onnx", message: error.message },
        ]);
      }
    },
  );
}

const base64 = (t: Tensor, dtype: string) => ({
  shape: [...t.shape],
  dtype,
  base64: Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("base64"),
});
