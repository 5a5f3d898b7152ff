/**
 * Requests that owe nothing to the valid bodies: ids and query strings, arbitrary JSON, text
 * that is not JSON, methods on routes that do not take them, and request targets that reach a
 * guarded route the long way round.
 */
import { request as httpRequest } from "node:http";
import fc from "fast-check";
import { headers } from "./broken-bodies.js";
import type { Answer, Case } from "./case.js";

// ---------------------------------------------------------------------------------------------
// URLs: ids and query strings

const id = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("{model}", "{created}", "{finishedJob}", "{job}") },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "nope",
      "%ZZ",
      "%",
      "%E0%A4%A",
      "%C0%AF",
      "..",
      "%2e%2e",
      "%00",
      "%2F",
      "a%20b",
      "x".repeat(101),
      "x".repeat(5000),
      "%F0%9F%98%80",
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      "null",
      "'%20OR%201=1--",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 30 }).map(encodeURIComponent),
  },
);

const queryValue = fc.oneof(
  fc.constantFrom(
    "1",
    "100",
    "101",
    "0",
    "-1",
    "1e2",
    "1.5",
    "abc",
    "",
    "%ZZ",
    "Infinity",
    "NaN",
    "0x10",
    "nested",
    "flat",
    "base64",
    "hex",
    Buffer.from(JSON.stringify(["2024-01-01T00:00:00.000Z", "x"])).toString("base64url"),
    Buffer.from(JSON.stringify([1, 2])).toString("base64url"),
    Buffer.from(JSON.stringify({ a: 1 })).toString("base64url"),
    Buffer.from(JSON.stringify(["", ""])).toString("base64url"),
    Buffer.from("not json").toString("base64url"),
    "x".repeat(600),
  ),
  fc.string({ unit: "binary", maxLength: 20 }).map(encodeURIComponent),
);

const query = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom("limit", "cursor", "encoding", "x", "__proto__", "constructor", "limit[]"),
        fc.string({ maxLength: 6 }).map(encodeURIComponent),
      ),
      queryValue,
    ),
    { maxLength: 4 },
  )
  .map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}` : ""));

export const readCase: fc.Arbitrary<Case> = fc.oneof(
  query.map((q): Case => ({ method: "GET", url: `/v1/models${q}` })),
  query.map((q): Case => ({ method: "GET", url: `/v1/training-jobs${q}` })),
  fc.tuple(id, query).map(([i, q]): Case => ({ method: "GET", url: `/v1/models/${i}${q}` })),
  fc
    .tuple(id, query)
    .map(([i, q]): Case => ({ method: "GET", url: `/v1/models/${i}/parameters${q}` })),
  // The real model stays: the cases after this one need it.
  id
    .filter((i) => i !== "{model}")
    .map((i): Case => ({ method: "DELETE", url: `/v1/models/${i}` })),
  fc.tuple(id, query).map(([i, q]): Case => ({ method: "GET", url: `/v1/training-jobs/${i}${q}` })),
  id.map((i): Case => ({ method: "POST", url: `/v1/training-jobs/${i}/cancel` })),
  // A running job's event stream stays open: only ids of finished or unknown jobs here.
  fc
    .tuple(fc.constantFrom<Case["method"]>("GET", "HEAD"), id)
    .filter(([, i]) => i !== "{job}")
    .map(([method, i]): Case => ({ method, url: `/v1/training-jobs/${i}/events` })),
  fc
    .tuple(fc.constantFrom("/v1/models", "/v1/models/{model}", "/v1/datasets", "/healthz"), query)
    .map(([url, q]): Case => ({ method: "HEAD", url: `${url}${q}` })),
);

// ---------------------------------------------------------------------------------------------
// Bodies that owe nothing to the valid ones

const POST_URLS = [
  "/v1/layers/forward",
  "/v1/layers/backward",
  "/v1/networks/forward",
  "/v1/networks/backward",
  "/v1/networks/gradient-check",
  "/v1/models",
  "/v1/models/{model}/predict",
  "/v1/models/{model}/evaluate",
  "/v1/models/nope/predict",
  "/v1/training-jobs",
];

const KEYS = ["layer", "layers", "x", "t", "dout", "dtype", "outputEncoding", "epsilon", "model"];

/** fc.jsonValue, fc.anything as JSON, and objects with the right keys but any values. */
export const arbitraryJson: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom(...POST_URLS),
    fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.anything({ withBigInt: false }).map((v) => JSON.stringify(v) ?? "null"),
      fc
        .dictionary(fc.constantFrom(...KEYS, "modelId", "data", "architecture"), fc.jsonValue(), {
          maxKeys: 5,
        })
        .map((v) => JSON.stringify(v)),
    ),
  )
  .map(([url, body]): Case => ({ method: "POST", url, body, contentType: "application/json" }));

const validText = JSON.stringify({ layer: { type: "relu" }, x: [[1, -1]] });

/** Text that is not JSON, sent as application/json. */
export const notJson: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom(...POST_URLS),
    fc.oneof(
      fc.string({ unit: "binary" }),
      fc.string({ unit: "grapheme-ascii" }),
      fc.constantFrom(
        "",
        " ",
        "\uFEFF{}",
        `\uFEFF${validText}`,
        `${validText}garbage`,
        `${validText}${validText}`,
        "{'a': 1}",
        '{"a": 1,}',
        "[1, 2,]",
        "// comment\n{}",
        "NaN",
        "Infinity",
        "undefined",
        '"\\ud800"',
        '{"a": "\\u00"}',
        "[".repeat(100_000),
        `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
        `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`,
        "\u0000",
      ),
      fc.nat().map((n) => validText.slice(0, n % validText.length)),
    ),
  )
  .map(([url, body]): Case => ({ method: "POST", url, body, contentType: "application/json" }));

/** Methods and routes that do not go together. */
export const wrongMethod: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom<Case["method"]>("GET", "PUT", "PATCH", "DELETE", "OPTIONS"),
    fc.constantFrom(...POST_URLS, "/v1/models/{model}/parameters", "/v1/nothing", "/v1"),
  )
  .map(
    ([method, url]): Case => ({ method, url, body: validText, contentType: "application/json" }),
  );

export const withHeaders = (cases: fc.Arbitrary<Case>) =>
  fc.tuple(cases, headers).map(([c, h]): Case => (h ? { ...c, headers: h } : c));

// ---------------------------------------------------------------------------------------------
// Request targets that reach a guarded route the long way round

/** Routes behind a key, each with a body it would answer 2xx to. */
const GUARDED = [
  { method: "GET", path: "/v1/models" },
  { method: "GET", path: "/v1/training-jobs" },
  { method: "GET", path: "/v1/datasets" },
  { method: "POST", path: "/v1/layers/forward", body: validText },
  { method: "GET", path: "/metrics" },
];

export interface Disguise {
  method: string;
  target: string;
  body?: string;
  authorization?: string;
}

/** Absolute-form targets, percent-encoded letters, suffixes; and no valid key. */
export const disguised: fc.Arbitrary<Disguise> = fc
  .record({
    route: fc.constantFrom(...GUARDED),
    origin: fc.constantFrom("", "", "http://evil", "http://127.0.0.1:1", "https://x"),
    encode: fc.array(fc.nat(), { maxLength: 3 }),
    lowerHex: fc.boolean(),
    suffix: fc.constantFrom("", "", "?", "?a=1", "/", ";x", "%20", "/.", "#x"),
    authorization: fc.constantFrom(
      undefined,
      "Bearer wrong-key-000001",
      "Bearer",
      "Bearer ",
      "Basic Og==",
      "fuzz-key-00000001",
      "Bearer fuzz-key-00000001 x",
    ),
  })
  .map(({ route, origin, encode, lowerHex, suffix, authorization }): Disguise => {
    const chars = [...route.path];
    const letters = chars.flatMap((c, i) => (/[A-Za-z0-9]/.test(c) ? [i] : []));
    for (const n of encode) {
      const i = letters[n % letters.length];
      const hex = chars[i].charCodeAt(0).toString(16);
      if (chars[i].length === 1) chars[i] = `%${lowerHex ? hex : hex.toUpperCase()}`;
    }
    return { ...route, target: `${origin}${chars.join("")}${suffix}`, authorization };
  });

/** One request with its target exactly as given, which supertest would normalise. */
export function rawRequest(port: number, d: Disguise): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: "127.0.0.1",
        port,
        method: d.method,
        path: d.target,
        headers: {
          ...(d.body ? { "content-type": "application/json" } : {}),
          ...(d.authorization ? { authorization: d.authorization } : {}),
        },
        timeout: 10_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"] ?? ""),
            text,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(d.body);
  });
}
