import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Config } from "../../config.js";
import { followJob } from "../../http/job-follower.js";
import { notFound, ProblemError, validationFailed } from "../../http/problem.js";
import { lastEventId, SseStream } from "../../http/sse.js";
import { problems } from "../../schemas/problem.js";
import {
  EventStream,
  EventsHeaders,
  IdParams,
  JobPage,
  JobSchema,
  PageQuery,
  trainingJobBody,
} from "../../schemas/training-jobs.js";
import type { JobRecord, JobSummaryRecord } from "../../store/repository.js";
import { isFinished } from "../../training/job-events.js";
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
    kernels: job.kernels,
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
        operationId: "createTrainingJob",
        tags,
        body: trainingJobBody(config),
        response: { 202: JobSchema, ...problems(400, 404, 413, 415, 429, 503, 504) },
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
      app.jobSubmitted(job.id);
      reply.status(202).header("location", `/v1/training-jobs/${job.id}`);
      return jobView(job);
    },
  );

  routes.get(
    "/v1/training-jobs",
    {
      schema: {
        summary: "Training jobs, newest first",
        operationId: "listTrainingJobs",
        tags,
        querystring: PageQuery,
        response: { 200: JobPage, ...problems(400) },
      },
    },
    async (request) => {
      const page = await jobs.list({ tenant: request.tenant, ...request.query });
      return { items: page.items.map(jobView), nextCursor: page.nextCursor };
    },
  );

  const find = async (id: string, tenant: string | null) => {
    const job = await jobs.get(id, tenant);
    if (!job) throw notFound("training job", id);
    return job;
  };

  routes.get(
    "/v1/training-jobs/:id",
    {
      schema: {
        summary: "A training job",
        operationId: "getTrainingJob",
        tags,
        params: IdParams,
        response: { 200: JobSchema, ...problems(404) },
      },
    },
    async (request) => jobView(await find(request.params.id, request.tenant)),
  );

  routes.post(
    "/v1/training-jobs/:id/cancel",
    {
      schema: {
        summary: "Cancel a job; a running job keeps what it learned as its result model",
        operationId: "cancelTrainingJob",
        tags,
        params: IdParams,
        response: { 202: JobSchema, ...problems(404, 409) },
      },
    },
    async (request, reply) => {
      const before = await find(request.params.id, request.tenant);
      if (isFinished(before)) {
        throw new ProblemError(
          409,
          "ALREADY_FINISHED",
          `training job ${before.id} has already ${before.status === "cancelled" ? "been cancelled" : before.status}; only a queued or running job can be cancelled`,
        );
      }
      const job = (await app.training.cancel(before.id, request.tenant)) ?? before;
      request.log.info({ jobId: job.id, status: job.status }, "training job cancel requested");
      // Where to follow the cancellation (a running job stops at its next iteration).
      reply.header("location", `/v1/training-jobs/${job.id}`);
      return reply.status(202).send(jobView(job));
    },
  );

  routes.get(
    "/v1/training-jobs/:id/events",
    {
      schema: {
        summary: "Server-Sent Events: progress, evaluation, and a final status",
        operationId: "streamTrainingJobEvents",
        description:
          "Events `progress`, `evaluation` and `status` (the last one when the job ends), each with an `id:` and, in its data, `at` (when it happened); a comment heartbeat every SSE_HEARTBEAT_MS; `shutdown` (with `retry:`) when the server stops. The events are stored: any replica streams any job, wherever it runs. A first connection gets the job's evaluations and status changes so far and its latest progress; send `Last-Event-ID` to resume after an event: every event that followed it.",
        headers: EventsHeaders,
        tags,
        params: IdParams,
        response: {
          200: {
            description: "A text/event-stream of the job's events",
            content: { "text/event-stream": { schema: EventStream } },
          },
          ...problems(404),
        },
      },
    },
    async (request, reply) => {
      const { streams, heartbeatMs } = app.jobStreams;
      const job = await find(request.params.id, request.tenant);
      const lastId = lastEventId(request.headers["last-event-id"]);
      reply.hijack();
      const stream = new SseStream(reply.raw, { "x-request-id": String(request.id) }, heartbeatMs);
      streams.add(stream);
      followJob(stream, app.training, job, lastId);
    },
  );
}
