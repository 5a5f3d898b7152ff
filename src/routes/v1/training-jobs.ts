import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Config } from "../../config.js";
import { notFound, ProblemError, validationFailed } from "../../http/problem.js";
import { ProblemSchema, problemResponses } from "../../schemas/problem.js";
import {
  IdParams,
  JobPage,
  JobSchema,
  PageQuery,
  trainingJobBody,
} from "../../schemas/training-jobs.js";
import type { JobRecord, JobSummaryRecord } from "../../store/repository.js";
import { isFinished, type JobEvent } from "../../training/job-events.js";
import type { DataRef } from "../../training/job-spec.js";
import { submitJob } from "../../training/submit.js";
import type { TaskTensor } from "../../wire/base64.js";
import { materialize, TensorFormatError } from "../../wire/tensor-codec.js";

/** A job as the API shows it: optional fields absent rather than null. */
export function jobView(job: JobRecord | JobSummaryRecord) {
  return {
    id: job.id,
    status: job.status,
    progress: job.progress,
    loss: job.loss,
    history: job.history,
    modelId: job.modelId,
    resultModelId: job.resultModelId ?? undefined,
    error: job.error ?? undefined,
    createdAt: job.createdAt,
    startedAt: job.startedAt ?? undefined,
    finishedAt: job.finishedAt ?? undefined,
    samplesPerSecond: job.samplesPerSecond ?? undefined,
  };
}

/** Inline training data decoded, once; base64 problems are 400s naming the field. */
function decodeData(ref: DataRef<TaskTensor>, path: string): DataRef {
  if ("dataset" in ref) return ref;
  const read = (t: TaskTensor, field: "x" | "t") => {
    try {
      return materialize(t);
    } catch (error) {
      if (!(error instanceof TensorFormatError)) throw error;
      throw validationFailed([{ path: `${path}.${field}.base64`, message: error.message }]);
    }
  };
  return { x: read(ref.x, "x"), t: read(ref.t, "t") };
}

export default async function trainingJobRoutes(
  app: FastifyInstance,
  { config }: { config: Config },
) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { jobs } = app.store;
  const tags = ["training jobs"];

  routes.post(
    "/v1/training-jobs",
    {
      schema: {
        summary: "Start training a model (a new model is the result; the starting model is kept)",
        tags,
        body: trainingJobBody(config),
        response: { 202: JobSchema, 404: ProblemSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const inline = body.model;
      const job = await submitJob(
        {
          store: app.store,
          training: app.training,
          config,
          createLayers: async () => (await app.compute(reply, "createModel", inline!)).layers,
        },
        request.tenant,
        {
          ...body,
          model: inline && {
            name: inline.name,
            dtype: inline.dtype,
            origin:
              "architecture" in inline
                ? { kind: "architecture", architecture: inline.architecture, seed: inline.seed }
                : { kind: "layers" },
          },
          data: decodeData(body.data, "data"),
          validation: body.validation && decodeData(body.validation, "validation"),
        },
      );
      reply.status(202).header("location", `/v1/training-jobs/${job.id}`);
      return jobView(job);
    },
  );

  routes.get(
    "/v1/training-jobs",
    {
      schema: {
        summary: "Training jobs, newest first",
        tags,
        querystring: PageQuery,
        response: { 200: JobPage },
      },
    },
    async (request) => {
      const page = jobs.list({ tenant: request.tenant, ...request.query });
      return { items: page.items.map(jobView), nextCursor: page.nextCursor };
    },
  );

  const find = (id: string, tenant: string | null) => {
    const job = jobs.get(id, tenant);
    if (!job) throw notFound("training job", id);
    return job;
  };

  routes.get(
    "/v1/training-jobs/:id",
    {
      schema: {
        summary: "A training job",
        tags,
        params: IdParams,
        response: { 200: JobSchema, 404: ProblemSchema },
      },
    },
    async (request) => jobView(find(request.params.id, request.tenant)),
  );

  routes.post(
    "/v1/training-jobs/:id/cancel",
    {
      schema: {
        summary: "Cancel a job; a running job keeps what it learned as its result model",
        tags,
        params: IdParams,
        response: { 202: JobSchema, 404: ProblemSchema, 409: ProblemSchema },
      },
    },
    async (request, reply) => {
      const before = find(request.params.id, request.tenant);
      if (isFinished(before)) {
        throw new ProblemError(
          409,
          "ALREADY_FINISHED",
          `training job ${before.id} already ended ${before.status}`,
        );
      }
      const job = app.training.cancel(before.id, request.tenant) ?? before;
      return reply.status(202).send(jobView(job));
    },
  );

  routes.get(
    "/v1/training-jobs/:id/events",
    {
      schema: {
        summary: "Server-Sent Events: progress, evaluation, and a final status",
        tags,
        params: IdParams,
        response: { 404: ProblemSchema },
      },
    },
    async (request, reply) => {
      const job = find(request.params.id, request.tenant);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-request-id": String(request.id),
      });
      const send = ({ event, data }: JobEvent) =>
        raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      const end = (status: JobRecord) => {
        send({
          event: "status",
          data: { status: status.status, resultModelId: status.resultModelId, error: status.error },
        });
        raw.end();
      };
      if (isFinished(job)) return end(job);
      const unsubscribe = app.training.subscribe(job.id, (event) => {
        send(event);
        if (
          event.event === "status" &&
          ["succeeded", "failed", "cancelled"].includes(event.data.status)
        ) {
          unsubscribe();
          raw.end();
        }
      });
      raw.on("close", unsubscribe);
      send({
        event: "progress",
        data: { ...job.progress, loss: job.loss, samplesPerSecond: job.samplesPerSecond ?? 0 },
      });
    },
  );
}
