import type { FastifyReply, FastifyRequest } from "fastify";
import type { Problem } from "./problem.js";

/**
 * Answers of the Open Inference Protocol routes (/v2). Their content type is exactly
 * `application/json`, because KServe's client reads an error's `error` only when the header
 * equals that string; Fastify would add `; charset=utf-8` to a string or an object, not to bytes.
 */
export const OIP_JSON = "application/json";

export function sendOipJson(reply: FastifyReply, value: unknown) {
  return reply.type(OIP_JSON).send(Buffer.from(JSON.stringify(value)));
}

/** The router's pattern when a route matched, else the raw target (unknown routes, bad URLs). */
export function isOipRequest(request: FastifyRequest): boolean {
  const path = request.routeOptions.url ?? request.url;
  return path === "/v2" || path.startsWith("/v2/") || path.startsWith("/v2?");
}

/** A problem's message, with each bad field named, as one line. */
export function oipMessage(body: Problem): string {
  const fields = body.errors ?? [];
  if (fields.length <= 1) return body.detail;
  return `${body.detail}: ${fields.map((e) => `${e.path || "body"}: ${e.message}`).join("; ")}`;
}

/** An error as `{"error": "..."}`, with the status a /v1 route gives. */
export function sendOipError(reply: FastifyReply, body: Problem) {
  return sendOipJson(reply.status(body.status), { error: oipMessage(body) });
}
