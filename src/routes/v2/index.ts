/**
 * The Open Inference Protocol v2, REST (KServe's and Triton's), with the binary tensor data
 * extension, over the models of /v1: input `x`, outputs `probabilities` and `labels`. One
 * encapsulated scope, so that its body parser (any content type, or none) stays here.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Config } from "../../config.js";
import { sendOipJson } from "../../http/oip-reply.js";
import { notFound } from "../../http/problem.js";
import { inputOutputSizes } from "../../models/summary.js";
import { OPENAPI_INFO } from "../../plugins/docs.js";
import {
  InferRequest,
  InferResponse,
  Live,
  ModelMetadata,
  ModelParams,
  ModelReady,
  OipError,
  oipErrors,
  Ready,
  ServerMetadata,
  VersionParams,
} from "../../schemas/v2.js";
import { addOipBodyParser, HEADER_LENGTH } from "./body.js";
import { inferAnswer, readInput, requestedOutputs } from "./infer.js";
import { modelMetadata, modelRef, resolveModel } from "./models.js";

const tags = ["inference protocol (v2)"];

/** The JSON header, then the binary outputs' bytes; the header's length in its own header. */
function sendBinary(reply: FastifyReply, header: object, binary: Uint8Array[]) {
  const headerBytes = Buffer.from(JSON.stringify(header));
  return reply
    .header(HEADER_LENGTH, headerBytes.length)
    .type("application/octet-stream")
    .send(Buffer.concat([headerBytes, ...binary]));
}

export default async function oipRoutes(app: FastifyInstance, { config }: { config: Config }) {
  addOipBodyParser(app);
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { models } = app.store;

  routes.get(
    "/v2",
    {
      schema: {
        summary: "Server metadata",
        operationId: "oipServerMetadata",
        tags,
        response: { 200: ServerMetadata, 401: OipError },
      },
    },
    async (_request, reply) =>
      sendOipJson(reply, {
        name: OPENAPI_INFO.title,
        version: OPENAPI_INFO.version,
        extensions: ["binary_tensor_data"],
      }),
  );

  routes.get(
    "/v2/health/live",
    {
      schema: {
        summary: "Liveness (open, as /healthz)",
        operationId: "oipLive",
        tags,
        response: { 200: Live },
      },
    },
    async (_request, reply) => sendOipJson(reply, { live: true }),
  );

  routes.get(
    "/v2/health/ready",
    {
      schema: {
        summary: "Readiness: 503 with ready false while draining (open, as /readyz)",
        operationId: "oipReady",
        tags,
        response: { 200: Ready, 503: Ready },
      },
    },
    async (_request, reply) =>
      sendOipJson(reply.status(app.accepting ? 200 : 503), { ready: app.accepting }),
  );

  for (const url of ["/v2/models/:model", "/v2/models/:model/versions/:version"]) {
    const versioned = url.includes(":version");
    const params = versioned ? VersionParams : ModelParams;
    const id = (name: string) => `oip${versioned ? "Version" : ""}${name}`;

    routes.get(
      url,
      {
        schema: {
          summary: "Model metadata; {model} is a model id or name, {version} a model id",
          operationId: id("ModelMetadata"),
          tags,
          params,
          response: { 200: ModelMetadata, 401: OipError, 404: OipError },
        },
      },
      async (request, reply) => {
        const model = await resolveModel(models, modelRef(request), request.tenant);
        return sendOipJson(reply, await modelMetadata(models, model));
      },
    );

    routes.get(
      `${url}/ready`,
      {
        schema: {
          summary: "Model readiness: 200 for every stored model",
          operationId: id("ModelReady"),
          tags,
          params,
          response: { 200: ModelReady, 401: OipError, 404: OipError },
        },
      },
      async (request, reply) => {
        const model = await resolveModel(models, modelRef(request), request.tenant);
        return sendOipJson(reply, { name: model.name ?? model.id, ready: true });
      },
    );

    routes.post(
      `${url}/infer`,
      {
        schema: {
          summary: "Inference: probabilities and labels of x, in JSON or binary",
          operationId: id("Infer"),
          tags,
          params,
          body: InferRequest,
          response: { 200: InferResponse, ...oipErrors },
        },
      },
      async (request, reply) => {
        const summary = await resolveModel(models, modelRef(request), request.tenant);
        const model = await models.get(summary.id, request.tenant);
        if (!model) throw notFound("model", summary.id);
        const inputSize = inputOutputSizes(model.layers)?.inputSize ?? null;
        const x = readInput(request.body, request.oipBinary, inputSize, config.limits);
        const requested = requestedOutputs(request.body);
        const result = await app.compute(reply, "predict", {
          dtype: model.dtype,
          layers: model.layers,
          x,
        });
        const { json: header, binary } = inferAnswer(
          request.body,
          { name: model.name ?? model.id, version: model.id },
          requested,
          result,
        );
        if (binary.length === 0) return sendOipJson(reply, header);
        return sendBinary(reply, header, binary);
      },
    );
  }
}
