import type { FastifyReply } from "fastify";

/**
 * JSON answers whose long strings are already bytes: the base64 text a worker encoded (see
 * encodeBase64Bytes). Stringifying megabytes of text on the main thread, then encoding the string
 * back to UTF-8 for the socket, costs more than the rest of such an answer; here the text is
 * spliced in as it is, and Fastify sends the bytes without serialising them.
 */

/** What stands in for each byte string while the rest is stringified. */
const TOKEN = "\u0000bytes";

/**
 * `value` as JSON, where each Uint8Array is a string of its bytes. They must be printable ASCII
 * that JSON needs not escape (base64 is), and no string of `value` may read "\u0000bytes".
 */
export function jsonBytes(value: unknown): Buffer {
  const spliced: Uint8Array[] = [];
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (!(item instanceof Uint8Array)) return item;
    spliced.push(item);
    return TOKEN;
  });
  if (spliced.length === 0) return Buffer.from(text);
  // JSON.stringify writes NUL as \u0000, so each token reads "\u0000bytes", quotes included.
  const parts = text.split(JSON.stringify(TOKEN));
  if (parts.length !== spliced.length + 1)
    throw new Error("a string of the answer reads like a token");
  const pieces: Uint8Array[] = [Buffer.from(`${parts[0]}"`)];
  spliced.forEach((bytes, i) => {
    pieces.push(bytes, Buffer.from(`"${parts[i + 1]}${i + 1 < spliced.length ? '"' : ""}`));
  });
  return Buffer.concat(pieces);
}

/** Sends `value` (checked against the route's schema by the caller's types) as jsonBytes. */
export function sendJsonBytes(reply: FastifyReply, value: unknown): FastifyReply {
  // The content type Fastify gives the JSON it serialises itself.
  return reply.type("application/json; charset=utf-8").send(jsonBytes(value));
}
