import { isAscii } from "node:buffer";
import { errorCodes } from "fastify";
import { ownsBuffer } from "../wire/tree.js";

/**
 * A JSON request body, parsed with the checks of Fastify's own parser: an empty body and invalid
 * JSON are its errors, and an object with a `__proto__` key or a `constructor.prototype` is
 * refused, as secure-json-parse refuses them. That parser scans the whole text with two regexes
 * for those keys (3.6 ms for a 4.4 MB base64 body); here the parsed objects are walked instead,
 * which skips the strings and costs one typeof per number of a nested array.
 *
 * Long `"base64"` values, nearly all the bytes of a base64 tensor request, never go through
 * JSON.parse and never become strings: they are lifted out of the bytes first and put back as
 * Uint8Arrays of their text, views of the body's own buffer, which a task then moves to a worker
 * instead of copying (see packBase64). A body that shares its buffer (Node pools small ones)
 * lends copies instead, so that every lifted value may move. Megabyte strings would cost a copy
 * each and, being external memory, a full collection of the heap every other request.
 *
 * `liftBase64: false` parses every value as JSON.parse does, for bodies without base64 tensors.
 */
export function parseJsonBody(bytes: Buffer, { liftBase64 = true } = {}): unknown {
  if (bytes.length === 0) throw new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY();
  const { rest, lifted } = liftBase64 ? lift(bytes) : { rest: bytes, lifted: [] };
  let value: unknown;
  try {
    // Pure ASCII, as numbers and base64 are, becomes a string by a copy instead of a UTF-8 decode.
    const text = rest.toString(isAscii(rest) ? "latin1" : "utf8");
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    throw new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY();
  }
  const owned = ownsBuffer(bytes);
  const putBack = (token: string) => {
    const content = lifted[Number(token.slice(1))];
    return owned ? content : new Uint8Array(content);
  };
  walkObjects(value, lifted.length > 0 ? putBack : null);
  return value;
}

const KEY = Buffer.from('"base64"');
/** Shorter values are left to JSON.parse: lifting them would save less than it costs. */
const MIN_LIFTED = 1024;
const isSpace = (byte: number | undefined) =>
  byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;

/**
 * `bytes` with the content of every long `"base64": "…"` string replaced by a token, `\u0000`
 * and its index in `lifted`. Only ASCII content without a backslash is lifted, so it reads the
 * same as JSON.parse would read it, and the token is JSON that lexes alike wherever the content
 * stood: inside a string it is one; where the quotes around it were not a string's (the `"base64"`
 * was not a key) the text was invalid JSON and stays so. One difference is left: a raw control
 * character, which JSON does not allow in a string, reaches the base64 decoder, which refuses it
 * (a 400 at the tensor's `base64` instead of one for invalid JSON). A body that holds `\u0000`
 * itself is parsed whole, so that a token cannot be mistaken for a string of the caller's.
 */
function lift(bytes: Buffer): { rest: Buffer; lifted: Buffer[] } {
  const lifted: Buffer[] = [];
  const kept: Buffer[] = [];
  let from = 0;
  // A quote ends each lifted value, so the next key is searched for after it.
  for (let at = bytes.indexOf(KEY); at !== -1; at = bytes.indexOf(KEY, Math.max(at + 1, from))) {
    let i = at + KEY.length;
    while (isSpace(bytes[i])) i++;
    if (bytes[i++] !== 0x3a) continue;
    while (isSpace(bytes[i])) i++;
    if (bytes[i] !== 0x22) continue;
    const start = i + 1;
    const end = bytes.indexOf(0x22, start);
    if (end === -1 || end - start < MIN_LIFTED) continue;
    const content = bytes.subarray(start, end);
    if (content.indexOf(0x5c) !== -1 || !isAscii(content)) continue;
    kept.push(bytes.subarray(from, start));
    lifted.push(content);
    from = end;
  }
  if (lifted.length === 0) return { rest: bytes, lifted };
  kept.push(bytes.subarray(from));
  // Lifted values hold no backslash, so only the rest can hold a `\u0000` of the caller's.
  if (kept.some((part) => part.includes("\\u0000"))) return { rest: bytes, lifted: [] };
  const token = (index: number) => Buffer.from(`\\u0000${index}`);
  const parts = kept.flatMap((part, k) => (k === 0 ? [part] : [token(k - 1), part]));
  return { rest: Buffer.concat(parts), lifted };
}

/**
 * Every object and array of a parsed body, once: refuses prototype-poisoning keys, and puts the
 * lifted base64 values back where their tokens are. When anything was lifted, the body holds no
 * `\u0000` (see lift), so a string that starts with NUL is a token.
 */
function walkObjects(root: unknown, putBack: ((token: string) => Uint8Array) | null): void {
  const pending = [root];
  while (pending.length > 0) {
    const node = pending.pop();
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        if (typeof node[i] === "object" && node[i] !== null) pending.push(node[i]);
      }
    } else if (typeof node === "object" && node !== null) {
      if (Object.hasOwn(node, "__proto__")) throw new SyntaxError('the body has a "__proto__" key');
      const ctor =
        Object.hasOwn(node, "constructor") && (node as { constructor: unknown }).constructor;
      if (typeof ctor === "object" && ctor !== null && Object.hasOwn(ctor, "prototype")) {
        throw new SyntaxError('the body has a "constructor" with a "prototype" key');
      }
      const { base64 } = node as { base64?: unknown };
      if (putBack && typeof base64 === "string" && base64.charCodeAt(0) === 0) {
        (node as { base64: Uint8Array }).base64 = putBack(base64);
      }
      for (const child of Object.values(node)) {
        // The bytes just put back are text, not JSON to walk.
        if (typeof child === "object" && child !== null && !ArrayBuffer.isView(child)) {
          pending.push(child);
        }
      }
    }
  }
}
