import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { isResponseSerializationError } from "fastify-type-provider-zod";
import { DatasetError } from "../datasets/catalog.js";
import { AllowedMethods } from "../http/allowed-methods.js";
import { isOipRequest, sendOipError } from "../http/oip-reply.js";
import {
  PROBLEM_JSON,
  type Problem,
  ProblemError,
  problem,
  validationFailed,
} from "../http/problem.js";
import { InvalidCursorError, StoreUnavailableError } from "../store/repository.js";
import { QueueUnavailableError } from "../training/job-queue.js";
import { SubmissionError } from "../training/submit.js";

/** Fastify's own client errors (by their code) and the domain's client errors, as problems. */
function fromFastify(error: FastifyError): ProblemError | undefined {
  if (error instanceof SubmissionError) {
    return validationFailed([{ path: error.path, message: error.message }]);
  }
  if (error instanceof DatasetError) {
    return validationFailed([{ path: `dataset.${error.field}`, message: error.message }]);
  }
  if (error instanceof StoreUnavailableError) {
    // The cause (host, port, pg's message) is for the log, not for callers.
    return new ProblemError(
      503,
      "STORE_UNAVAILABLE",
      "the store cannot be reached right now; retry after Retry-After seconds",
      undefined,
      { "retry-after": "5" },
    );
  }
  if (error instanceof QueueUnavailableError) {
    return new ProblemError(
      503,
      "QUEUE_UNAVAILABLE",
      "training jobs cannot be queued right now (the job queue is unreachable); nothing was stored; retry after Retry-After seconds",
      undefined,
      { "retry-after": "5" },
    );
  }
  if (error instanceof InvalidCursorError) {
    return validationFailed([
      {
        path: "query.cursor",
        message: "is not a cursor this service handed out: pass a nextCursor from a page, or none",
      },
    ]);
  }
  switch (error.code) {
    case "FST_ERR_BAD_URL":
      return new ProblemError(400, "BAD_URL", error.message);
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new ProblemError(414, "URI_TOO_LONG", error.message);
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ProblemError(413, "PAYLOAD_TOO_LARGE", error.message);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ProblemError(415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new ProblemError(400, "INVALID_JSON", error.message);
  }
  if (error instanceof SyntaxError) return new ProblemError(400, "INVALID_JSON", error.message);
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500 && !isResponseSerializationError(error)) {
    return new ProblemError(status, "BAD_REQUEST", error.message);
  }
  return undefined;
}

/**
 * Every error leaves as problem+json (as `{"error"}` under /v2, the Open Inference Protocol's
 * form); a 5xx shows the request id, no stack.
 */
export function sendError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const known = error instanceof ProblemError ? error : fromFastify(error);
  let body: Problem;
  if (known) {
    body = known.toProblem();
    reply.headers(known.headers);
    if (known.status >= 500) {
      // A translated fault keeps its cause in the log (e.g. which server refused the store).
      const cause = known === error ? {} : { err: error };
      request.log.warn({ code: known.code, ...cause }, known.message);
    }
  } else {
    request.log.error({ err: error }, "unhandled error");
    body = problem(500, "INTERNAL", `internal error; quote request id ${request.id}`);
  }
  if (body.status >= 500) body.requestId = String(request.id);
  // Errors Fastify meets before routing skip the app's onSend hook: the id is set here too.
  reply.header("x-request-id", request.id);
  if (isOipRequest(request)) return sendOipError(reply, body);
  return reply.status(body.status).type(PROBLEM_JSON).send(body);
}

/**
 * One error handler for the routes. Errors Fastify meets before routing (a path that does not
 * percent-decode, an over-long id) bypass it: buildApp passes `sendError` as `frameworkErrors`.
 */
export default fp(async function errors(app: FastifyInstance) {
  app.setErrorHandler(sendError);

  const allowed = new AllowedMethods();
  app.addHook("onRoute", (route) => allowed.add(route.url, route.method));

  app.setNotFoundHandler((request, reply) => {
    const methods = allowed.at(request.url.split("?", 1)[0]);
    if (methods.length > 0) {
      const body = problem(
        405,
        "METHOD_NOT_ALLOWED",
        `${request.method} is not allowed on ${request.url.split("?", 1)[0]}; allowed: ${methods.join(", ")}`,
      );
      return reply.status(405).header("allow", methods.join(", ")).type(PROBLEM_JSON).send(body);
    }
    const body = problem(404, "NOT_FOUND", `no route ${request.method} ${request.url}`);
    if (isOipRequest(request)) return sendOipError(reply, body);
    return reply.status(404).type(PROBLEM_JSON).send(body);
  });
});
