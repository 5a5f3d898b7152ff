/**
 * The Open Inference Protocol v2, REST (kserve/open-inference-protocol, inference_rest.md), with
 * Triton's binary tensor data extension. Objects are not strict: clients add fields of their own
 * (KServe's sends `model_name` in a request), and the protocol says to ignore what is unknown.
 */
import { z } from "zod";

export const DATATYPES = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
  "BF16",
] as const;
export type Datatype = (typeof DATATYPES)[number];

const Parameters = z
  .record(z.string(), z.unknown())
  .meta({ description: "Free-form parameters, kept; the binary extension reads its own keys" });

const Dims = z.array(z.int().min(0)).meta({ description: "Dimensions, outermost first" });

export const ModelParams = z.strictObject({ model: z.string().min(1).max(200) });
export const VersionParams = z.strictObject({
  model: z.string().min(1).max(200),
  version: z.string().min(1).max(100),
});

export const ServerMetadata = z
  .object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) })
  .meta({ id: "OipServerMetadata" });

export const Live = z.object({ live: z.boolean() });
export const Ready = z.object({ ready: z.boolean() });
export const ModelReady = z.object({ name: z.string(), ready: z.boolean() });

const TensorMetadata = z.object({
  name: z.string(),
  datatype: z.enum(DATATYPES),
  shape: z.array(z.int()).meta({ description: "-1 for a dimension of any size (the batch)" }),
});

export const ModelMetadata = z
  .object({
    name: z.string(),
    versions: z.array(z.string()).meta({ description: "Model ids of that name, newest first" }),
    platform: z.string(),
    inputs: z.array(TensorMetadata),
    outputs: z.array(TensorMetadata),
  })
  .meta({ id: "OipModelMetadata" });

const InferInput = z.object({
  name: z.string(),
  shape: Dims,
  datatype: z.enum(DATATYPES, { error: `expected one of ${DATATYPES.join(", ")}` }),
  parameters: Parameters.optional(),
  data: z
    .array(z.unknown())
    .optional()
    .meta({ description: "Row-major values, flat or nested; absent when the bytes are binary" }),
});

const RequestedOutput = z.object({
  name: z.string(),
  parameters: Parameters.optional(),
});

export const InferRequest = z
  .object({
    id: z.string().optional(),
    parameters: Parameters.optional(),
    inputs: z.array(InferInput).min(1),
    outputs: z.array(RequestedOutput).optional(),
  })
  .meta({
    id: "OipInferRequest",
    description:
      "JSON, or with the binary extension this JSON (Inference-Header-Content-Length bytes) " +
      "followed by each binary input's raw little-endian bytes, in order",
  });
export type InferRequest = z.infer<typeof InferRequest>;

const InferOutput = z.object({
  name: z.string(),
  shape: z.array(z.int()),
  datatype: z.enum(DATATYPES),
  parameters: Parameters.optional(),
  data: z.array(z.number()).optional(),
});

export const InferResponse = z
  .object({
    model_name: z.string(),
    model_version: z.string(),
    id: z.string().optional(),
    parameters: Parameters.optional(),
    outputs: z.array(InferOutput),
  })
  .meta({
    id: "OipInferResponse",
    description:
      "JSON, or (when an output asks for binary data) this JSON followed by the binary outputs' " +
      "bytes, its length in Inference-Header-Content-Length",
  });

export const OipError = z.object({ error: z.string() }).meta({ id: "OipError" });

/** The error answers of /v2 routes, for the documentation. */
export const oipErrors = {
  400: OipError,
  401: OipError,
  404: OipError,
  413: OipError,
  422: OipError,
  503: OipError,
  504: OipError,
};
