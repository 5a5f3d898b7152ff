import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Config } from "../../config.js";
import { loadDataset } from "../../datasets/catalog.js";
import { pacedBody } from "../../http/paced-body.js";
import { notFound } from "../../http/problem.js";
import { parametersJson } from "../../models/parameters-json.js";
import { modelSummary } from "../../models/summary.js";
import {
  createModelBody,
  EvaluateResponse,
  evaluateBody,
  IdParams,
  ModelPage,
  ModelParameters,
  ModelSummary,
  PageQuery,
  ParametersQuery,
  PredictResponse,
  predictBody,
} from "../../schemas/models.js";
import { computeProblems, problems } from "../../schemas/problem.js";
import { encodeTensor } from "../../wire/tensor-codec.js";
import { addOnnxBodyParser } from "./onnx-body.js";

export default async function modelRoutes(app: FastifyInstance, { config }: { config: Config }) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { models } = app.store;
  const tags = ["models"];
  // Interop (issue 15): an ONNX body for POST /v1/models is read into the JSON form here.
  addOnnxBodyParser(app);

  const find = async (id: string, tenant: string | null) => {
    const model = await models.get(id, tenant);
    if (!model) throw notFound("model", id);
    return model;
  };

  routes.post(
    "/v1/models",
    {
      schema: {
        summary:
          "Register a model from an architecture (seeded init), from explicit layers, or from an ONNX file (application/onnx or application/octet-stream; ?name= names it)",
        operationId: "createModel",
        tags,
        querystring: z.object({
          name: z.string().min(1).max(200).optional().meta({ description: "An ONNX body's name" }),
        }),
        body: createModelBody(config.limits),
        response: { 201: ModelSummary, ...problems(400, 413, 415, 503, 504) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const created = await app.compute(reply, "createModel", body);
      const model = await models.create({
        tenant: request.tenant,
        name: body.name ?? null,
        dtype: body.dtype,
        layers: created.layers,
        origin:
          "architecture" in body
            ? { kind: "architecture", architecture: body.architecture, seed: body.seed }
            : { kind: "layers" },
      });
      reply.status(201).header("location", `/v1/models/${model.id}`);
      return modelSummary(model);
    },
  );

  routes.get(
    "/v1/models",
    {
      schema: {
        summary: "Models, newest first",
        operationId: "listModels",
        tags,
        querystring: PageQuery,
        response: { 200: ModelPage, ...problems(400) },
      },
    },
    async (request) => {
      const page = await models.list({ tenant: request.tenant, ...request.query });
      return { items: page.items.map(modelSummary), nextCursor: page.nextCursor };
    },
  );

  routes.get(
    "/v1/models/:id",
    {
      schema: {
        summary: "A model's summary",
        operationId: "getModel",
        tags,
        params: IdParams,
        response: { 200: ModelSummary, ...problems(404) },
      },
    },
    async (request) => {
      const model = await models.getSummary(request.params.id, request.tenant);
      if (!model) throw notFound("model", request.params.id);
      return modelSummary(model);
    },
  );

  routes.get(
    "/v1/models/:id/parameters",
    {
      schema: {
        summary: "Every W and b: a body that POST /v1/models and /v1/networks/* accept as is",
        operationId: "getModelParameters",
        tags,
        params: IdParams,
        querystring: ParametersQuery,
        response: { 200: ModelParameters, ...problems(400, 404) },
      },
    },
    async (request, reply) => {
      const model = await find(request.params.id, request.tenant);
      // Streamed in slices (parameters-json.ts): the largest model's numbers are ~170 MB of text.
      // A stream skips the serializer, so the body's type is ModelParameters by construction
      // (checked against the schema on the parsed body by test/http/openapi-contract.test.ts).
      const body = pacedBody(parametersJson(model, request.query.encoding));
      return reply.type("application/json; charset=utf-8").send(body as never);
    },
  );

  routes.delete(
    "/v1/models/:id",
    {
      schema: {
        summary: "Delete a model",
        operationId: "deleteModel",
        tags,
        params: IdParams,
        response: { 204: z.null().meta({ description: "Deleted" }), ...problems(404) },
      },
    },
    async (request, reply) => {
      if (!(await models.delete(request.params.id, request.tenant)))
        throw notFound("model", request.params.id);
      return reply.status(204).send(null);
    },
  );

  routes.post(
    "/v1/models/:id/predict",
    {
      schema: {
        summary: "Class probabilities and labels for x",
        operationId: "predict",
        tags,
        params: IdParams,
        body: predictBody(config.limits),
        response: { 200: PredictResponse, ...problems(404), ...computeProblems },
      },
    },
    async (request, reply) => {
      const model = await find(request.params.id, request.tenant);
      const { x, outputEncoding = x.encoding } = request.body;
      const result = await app.compute(reply, "predict", {
        dtype: model.dtype,
        layers: model.layers,
        x,
        encoding: outputEncoding,
      });
      return {
        probabilities: encodeTensor(result.probabilities, outputEncoding),
        labels: result.labels,
      };
    },
  );

  routes.post(
    "/v1/models/:id/evaluate",
    {
      schema: {
        summary: "Loss and accuracy on labelled data or a built-in dataset",
        operationId: "evaluateModel",
        tags,
        params: IdParams,
        body: evaluateBody(config.limits),
        response: { 200: EvaluateResponse, ...problems(404), ...computeProblems },
      },
    },
    async (request, reply) => {
      const model = await find(request.params.id, request.tenant);
      const body = request.body;
      // A dataset's rows are loaded here, once per process, and shared with the worker thread.
      const data =
        "dataset" in body
          ? { rows: await loadDataset(body.dataset.name, body.dataset.split, body.dataset.limit) }
          : { x: body.x, t: body.t };
      const task = { dtype: model.dtype, layers: model.layers, ...data };
      const { loss, accuracy, count } = await app.compute(reply, "evaluate", task);
      return { loss, accuracy, count };
    },
  );
}
