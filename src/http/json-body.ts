import { isAscii } from "node:buffer";
import { errorCodes } from "fastify";

/**
 * A JSON request body, parsed with the checks of Fastify's own parser: an empty body and invalid
 * JSON are its errors, and an object with a `__proto__` key or a `constructor.prototype` is
 * refused, as secure-json-parse refuses them. That parser scans the whole text with two regexes
 * for those keys (3.6 ms for a 4.4 MB base64 body); here the parsed objects are walked instead,
 * which skips the strings and costs one typeof per number of a nested array.
 */
export function parseJsonBody(bytes: Buffer): unknown {
  if (bytes.length === 0) throw new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY();
  let value: unknown;
  try {
    // Pure ASCII, as numbers and base64 are, becomes a string by a copy instead of a UTF-8 decode.
    const text = bytes.toString(isAscii(bytes) ? "latin1" : "utf8");
    value = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    throw new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY();
  }
  refusePrototypeKeys(value);
  return value;
}

function refusePrototypeKeys(root: unknown): void {
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
      for (const child of Object.values(node)) {
        if (typeof child === "object" && child !== null) pending.push(child);
      }
    }
  }
}
