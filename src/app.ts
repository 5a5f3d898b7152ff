import cors from "@fastify/cors";
import Fastify, { type FastifyInstance } from "fastify";
import { serializerCompiler } from "fastify-type-provider-zod";
import type { Config } from "./config.js";
import { bufferedBody } from "./http/body-bytes.js";
import { clientErrorHandler } from "./http/client-error.js";
import { parseJsonBody } from "./http/json-body.js";
import { ProblemError } from "./http/problem.js";
import { requestId } from "./http/request-id.js";
import { validatorCompiler } from "./http/validation.js";
import auth from "./plugins/auth.js";
import compute from "./plugins/compute.js";
import docs from "./plugins/docs.js";
import errors, { sendError } from "./plugins/errors.js";
import jobStreams from "./plugins/job-streams.js";
import jobTelemetry from "./plugins/job-telemetry.js";
import metrics from "./plugins/metrics.js";
import redis from "./plugins/redis.js";
import store from "./plugins/store.js";
import training from "./plugins/training.js";
import ui from "./plugins/ui.js";
import healthRoutes from "./routes/health.js";
import datasetRoutes from "./routes/v1/datasets.js";
import layerRoutes from "./routes/v1/layers.js";
import modelOnnxRoutes from "./routes/v1/model-onnx.js";
import modelRoutes from "./routes/v1/models.js";
import networkRoutes from "./routes/v1/networks.js";
import trainingJobRoutes from "./routes/v1/training-jobs.js";
import oipRoutes from "./routes/v2/index.js";

export interface AppOptions {
  /** pino options, or false for silence (tests). */
  logger?: boolean | Record<string, unknown>;
}

/** Builds the whole application; it never listens (server.ts does, tests use inject/supertest). */
export async function buildApp(config: Config, options: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? {
      level: config.logLevel,
      redact: ["req.headers.authorization", "req.headers.cookie"],
    },
    bodyLimit: config.bodyLimit,
    // A caller's x-request-id is kept when it is short and plain, else replaced (see requestId).
    requestIdHeader: false,
    genReqId: requestId,
    // Requests on connections still open while closing reach the draining hook below, which
    // answers them as every error is answered; Fastify closes their connections.
    return503OnClosing: false,
    // X-Forwarded-For is believed only from the proxies TRUST_PROXY names (request.ip).
    trustProxy: config.trustProxy,
    forceCloseConnections: "idle",
    frameworkErrors: sendError,
    clientErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON only: anything else is a 415, not a string handed to the validators.
  app.removeContentTypeParser("text/plain");
  app.removeContentTypeParser("application/json");
  // SDKs send the header on body-less calls (cancel, delete) too: no bytes is no body.
  app.addContentTypeParser(
    "application/json",
    bufferedBody((_request, body) => (body.length === 0 ? undefined : parseJsonBody(body))),
  );
  app.decorate("accepting", true);
  // Draining (from SIGTERM, or any close): work in flight finishes, new work is refused; liveness
  // and metrics still answer.
  app.addHook("preClose", async () => {
    app.accepting = false;
  });
  app.addHook("onRequest", async (request) => {
    const url = request.routeOptions.url;
    // /v2/health/ready answers its own 503 while draining, in the protocol's form.
    const open = url === "/healthz" || url === "/metrics" || url?.startsWith("/v2/health/");
    if (!app.accepting && !open) {
      throw new ProblemError(503, "DRAINING", "the server is shutting down", undefined, {
        "retry-after": "1",
      });
    }
  });
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });

  await app.register(errors);
  if (config.corsOrigins !== null) {
    await app.register(cors, {
      origin: config.corsOrigins,
      methods: ["GET", "POST", "DELETE"],
      allowedHeaders: ["authorization", "content-type", "x-request-id", "last-event-id"],
      exposedHeaders: ["location", "retry-after", "x-request-id", "www-authenticate", "allow"],
      maxAge: 600,
    });
  }
  await app.register(redis, { config });
  await app.register(auth, { config });
  await app.register(metrics);
  await app.register(docs);
  await app.register(compute, { config });
  await app.register(store, { config });
  await app.register(training, { config });
  await app.register(jobStreams, { config });
  await app.register(jobTelemetry);
  await app.register(healthRoutes);
  await app.register(layerRoutes, { config });
  await app.register(networkRoutes, { config });
  await app.register(modelRoutes, { config });
  await app.register(trainingJobRoutes, { config });
  await app.register(datasetRoutes);
  await app.register(modelOnnxRoutes);
  await app.register(oipRoutes, { config });
  // The dashboard (issue 17): static files at /ui/, and / redirecting there.
  await app.register(ui);
  return app;
}
