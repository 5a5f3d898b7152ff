import { maxHeaderSize, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { PROBLEM_JSON, problem } from "./problem.js";

type ParserError = Error & { code?: string; reason?: string };

/**
 * The answer to what Node's HTTP parser could not read as a request (Fastify's
 * clientErrorHandler): a problem in the service's own form that says what was wrong, where
 * Fastify would send `{"message":"Client Error"}`. No route has run, so there is no request id,
 * and the connection closes after it, as Node closes it.
 */
export function clientErrorHandler(this: FastifyInstance, error: ParserError, socket: Socket) {
  // A reset connection has no one left to answer.
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const [status, code, detail] = described(error);
  this.log.debug({ err: error }, "the HTTP parser refused a request");
  if (socket.writable) {
    const body = JSON.stringify(problem(status, code, detail));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: ${PROBLEM_JSON}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

function described(error: ParserError): [number, string, string] {
  switch (error.code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [
        408,
        "REQUEST_TIMEOUT",
        "the request did not arrive in full within the server's time",
      ];
    case "HPE_HEADER_OVERFLOW":
      return [
        431,
        "HEADERS_TOO_LARGE",
        `the request's headers are larger than the server reads (${maxHeaderSize / 1024} KiB in all)`,
      ];
    case "HPE_INVALID_EOF_STATE":
      return [
        400,
        "BAD_REQUEST",
        "the connection ended before the request did: its body is shorter than its Content-Length",
      ];
    default:
      return [
        400,
        "BAD_REQUEST",
        `the request is not valid HTTP/1.1: ${error.reason ?? error.message} (${error.code ?? "no code"})`,
      ];
  }
}
