import type { IncomingMessage } from "node:http";
import { errorCodes, type FastifyRequest } from "fastify";

type Done = (error: Error | null, body?: unknown) => void;

/**
 * A Fastify content-type parser that reads the body into one buffer and hands it to `parse`
 * (whose throw is the request's error), with the limits of Fastify's own `parseAs: "buffer"`: a
 * Content-Length over the route's bodyLimit is refused unread, a body that outgrows it mid-way is
 * cut off (both 413), and one that ends short of its Content-Length is a 400.
 *
 * Unlike Fastify's reader, which keeps the chunks and joins them at the end, a body with a
 * Content-Length is copied into a buffer of that size as each chunk arrives: the copy of a
 * chunk still in cache, while the next is on its way, instead of one pass over megabytes once
 * the last has come (4 ms of a 10.7 MB body, a third of the time it takes to arrive). The buffer
 * is the body's own, never Node's shared pool, so the base64 text in it may move to a worker
 * (see parseJsonBody); its pages are only touched as the bytes come.
 */
export function bufferedBody(parse: (request: FastifyRequest, body: Buffer) => unknown) {
  return (request: FastifyRequest, payload: IncomingMessage, done: Done): void => {
    const limit = request.routeOptions.bodyLimit ?? Number.POSITIVE_INFINITY;
    const header = request.headers["content-length"];
    const length = header === undefined ? null : Number(header);
    if (length !== null && length > limit) {
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    // Without a length (chunked), the chunks are kept and joined at the end.
    const body = length === null ? null : Buffer.allocUnsafeSlow(length);
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = () => {
      payload.off("data", onData);
      payload.off("end", onEnd);
      payload.off("error", onError);
    };
    const onData = (chunk: Buffer) => {
      const total = received + chunk.length;
      if (total > limit || (body && total > body.length)) {
        stop();
        done(
          total > limit
            ? new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE()
            : new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH(),
        );
        return;
      }
      if (body) body.set(chunk, received);
      else chunks.push(chunk);
      received = total;
    };
    const onEnd = () => {
      stop();
      if (body && received !== body.length) {
        done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
        return;
      }
      let value: unknown;
      try {
        value = parse(request, body ?? Buffer.concat(chunks, received));
      } catch (error) {
        done(error as Error);
        return;
      }
      done(null, value);
    };
    const onError = (error: Error & { statusCode?: number }) => {
      stop();
      if (!(typeof error.statusCode === "number" && error.statusCode >= 400)) {
        error.statusCode = 400;
      }
      done(error);
    };
    payload.on("data", onData);
    payload.on("end", onEnd);
    payload.on("error", onError);
  };
}
