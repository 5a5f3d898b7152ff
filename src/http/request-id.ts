import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** What a caller's id may look like to be logged and echoed: short, and nothing to escape. */
const CALLER_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request's id: the caller's `x-request-id` when it is at most 128 characters of
 * `[A-Za-z0-9._:-]`, else a random UUID, unique across processes and restarts.
 */
export function requestId(request: IncomingMessage): string {
  const given = request.headers["x-request-id"];
  return typeof given === "string" && CALLER_ID.test(given) ? given : randomUUID();
}
