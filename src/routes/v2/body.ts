import type { FastifyInstance } from "fastify";
import { bufferedBody } from "../../http/body-bytes.js";
import { parseJsonBody } from "../../http/json-body.js";
import { ProblemError } from "../../http/problem.js";
import { ownsBuffer } from "../../wire/tree.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The bytes after the JSON header of a binary-extension request; null without them. */
    oipBinary: Uint8Array | null;
  }
}

export const HEADER_LENGTH = "inference-header-content-length";

/**
 * The /v2 body parser, for every content type and none: tritonclient.http sends no Content-Type
 * at all, KServe's client `application/octet-stream` for a binary body and `application/json`
 * otherwise, and the protocol reads the body the same way whatever it is called. With
 * Inference-Header-Content-Length, the first that many bytes are the JSON and the rest the binary
 * tensors; without it the body is all JSON. Registered inside the /v2 scope only, so /v1 keeps
 * answering anything but JSON with 415.
 */
export function addOipBodyParser(app: FastifyInstance): void {
  app.decorateRequest("oipBinary", null);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "*",
    bufferedBody((request, body) => {
      const header = request.headers[HEADER_LENGTH];
      const length = header === undefined ? body.length : headerLength(header, body.length);
      // The protocol has no base64 tensors: every value is parsed as JSON.parse reads it.
      const value = parseJsonBody(body.subarray(0, length), { liftBase64: false });
      request.oipBinary = length === body.length ? null : binaryPart(body, length);
      return value;
    }),
  );
}

function headerLength(header: string | string[], bodyLength: number): number {
  const text = Array.isArray(header) ? header[0] : header;
  const length = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!(length > 0 && length <= bodyLength)) {
    throw new ProblemError(
      400,
      "BAD_REQUEST",
      `Inference-Header-Content-Length is ${JSON.stringify(text)}; expected the JSON header's length in bytes, 1 to ${bodyLength} for this body`,
    );
  }
  return length;
}

/**
 * The binary tensors: a view of the body when the body has its buffer to itself, since a task
 * then moves that buffer to the worker; a copy when Node pools it with other small buffers.
 */
function binaryPart(body: Buffer, from: number): Uint8Array {
  const bytes = body.subarray(from);
  return ownsBuffer(body) ? bytes : new Uint8Array(bytes);
}
