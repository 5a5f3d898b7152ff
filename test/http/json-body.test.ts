import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseJsonBody } from "../../src/http/json-body.js";

/** `value` with each lifted base64 value, bytes of its text, read back as a string. */
function asText(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("latin1");
  if (Array.isArray(value)) return value.map(asText);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, asText(v)]));
}

const parse = (text: string) => asText(parseJsonBody(Buffer.from(text)));

describe("parseJsonBody", () => {
  it("parses ASCII and UTF-8 bodies", () => {
    expect(parse('{"x":[[1,2.5],[-3e2,0]],"name":"a"}')).toEqual({
      x: [
        [1, 2.5],
        [-300, 0],
      ],
      name: "a",
    });
    expect(parse('{"name":"Gewichte für Übung ✓"}')).toEqual({ name: "Gewichte für Übung ✓" });
  });

  it("skips a UTF-8 byte order mark, as Fastify's parser does", () => {
    expect(parse('\uFEFF{"a":1}')).toEqual({ a: 1 });
  });

  it("refuses an empty body and invalid JSON with Fastify's errors", () => {
    expect(() => parse("")).toThrow(
      expect.objectContaining({ code: "FST_ERR_CTP_EMPTY_JSON_BODY" }),
    );
    expect(() => parse('{"x":')).toThrow(
      expect.objectContaining({ code: "FST_ERR_CTP_INVALID_JSON_BODY" }),
    );
  });

  it.each([
    ['{"__proto__":{"polluted":true}}', "__proto__"],
    ['{"a":[1,{"b":{"__proto__":null}}]}', "__proto__"],
    ['[[0],[{"\\u005f_proto__":1}]]', "__proto__"],
    ['{"layers":[{"constructor":{"prototype":{"polluted":true}}}]}', "constructor"],
    ['{"a":{"c\\u006fnstructor":{"prototype":1}}}', "constructor"],
  ])("refuses %s, however deep or escaped", (text, key) => {
    expect(() => parse(text)).toThrow(new RegExp(`"${key}"`));
  });

  it("lets a constructor key through when it has no prototype, as secure-json-parse does", () => {
    expect(parse('{"constructor":{"name":1},"b":{"constructor":"x"}}')).toEqual({
      constructor: { name: 1 },
      b: { constructor: "x" },
    });
  });

  it("walks a large nested array without scanning it as text", () => {
    const rows = Array.from({ length: 1000 }, (_, i) =>
      Array.from({ length: 784 }, (_, j) => i - j),
    );
    const parsed = parse(JSON.stringify({ x: rows })) as { x: number[][] };
    expect(parsed.x[999][0]).toBe(999);
    // Row 500 is the only one that starts with 500: its first number becomes a poisoned object.
    const poisoned = JSON.stringify({ x: rows }).replace("[500,", '[{"__proto__":1},');
    expect(() => parse(poisoned)).toThrow(/__proto__/);
  });

  describe("long base64 values, lifted out before JSON.parse", () => {
    const long = (seed: number) =>
      Buffer.from(Float32Array.from({ length: 600 }, (_, i) => i * seed).buffer).toString("base64");

    it("reads them as JSON.parse reads them, whitespace and all", () => {
      const [a, b] = [long(1), long(2)];
      const text = `{"x" : {"shape":[600],"dtype":"float32","base64"\t:\n "${a}"},"w":[{"base64":"${b}"}]}`;
      expect(parse(text)).toEqual(JSON.parse(text));
      expect((parse(text) as { x: { base64: string } }).x.base64).toBe(a);
      expect(
        (parseJsonBody(Buffer.from(text)) as { x: { base64: unknown } }).x.base64,
      ).toBeInstanceOf(Uint8Array);
    });

    it("hands them over as bytes: views of a body that owns its buffer, else copies", () => {
      const [a, b] = [long(1), long(2)];
      const body = Buffer.from(`{"x":{"base64":"${a}"},"w":{"base64":"${b}"},"s":"${a}"}`);
      expect(body.byteOffset === 0 && body.byteLength === body.buffer.byteLength).toBe(true);
      const value = parseJsonBody(body) as Record<string, { base64: Uint8Array }> & { s: string };
      for (const [bytes, text] of [
        [value.x.base64, a],
        [value.w.base64, b],
      ] as const) {
        expect(bytes).toBeInstanceOf(Uint8Array);
        expect(bytes.buffer).toBe(body.buffer);
        expect(Buffer.from(bytes).toString("latin1")).toBe(text);
      }
      expect(value.s).toBe(a);
      // A body in Node's shared pool (small ones are) lends copies: moving its buffer to a worker
      // would take the pool with it.
      const short = long(1).slice(0, 1200);
      const pooled = Buffer.from(`{"x":{"base64":"${short}"}}`);
      expect(pooled.byteLength < pooled.buffer.byteLength).toBe(true);
      const copied = (parseJsonBody(pooled) as { x: { base64: Uint8Array } }).x.base64;
      expect(copied.buffer).not.toBe(pooled.buffer);
      expect(copied.byteLength).toBe(copied.buffer.byteLength);
      expect(Buffer.from(copied).toString("latin1")).toBe(short);
    });

    it("leaves every value a string when lifting is off", () => {
      const text = `{"x":{"base64":"${long(1)}"}}`;
      expect(parseJsonBody(Buffer.from(text), { liftBase64: false })).toEqual(JSON.parse(text));
    });

    it("leaves a raw control character in a long value to the base64 decoder to refuse", () => {
      // JSON.parse would refuse the whole body; the value reaches the tensor's decoder instead.
      const value = `${long(1).slice(0, 600)}\t${long(1).slice(601)}`;
      expect(() => JSON.parse(`{"base64":"${value}"}`)).toThrow();
      expect(parse(`{"base64":"${value}"}`)).toEqual({ base64: value });
    });

    // Bodies a careless lifter would misread: "base64" after an escaped quote or backslash, inside
    // a string, without its colon or quotes; values holding non-ASCII, escapes, quotes, the token.
    const wrappers = fc.constantFrom(
      ...[
        ["{", "}"],
        ["[{", "}]"],
        ['{"k":[1,{', "}]}"],
        ['{"k":"x\\\\",', "}"],
      ],
      ...[
        ['{"k":"\\"', '"}'],
        ['{"base64":"', '"}'],
        ['"', '"'],
        ["{", ""],
        ["", "}"],
      ],
    );
    const space = fc.constantFrom("", " ", "\t\n", "x");
    const content = fc
      .array(fc.constantFrom(long(3), long(3), "é", "\\n", "\\u0000", '"', '\\"', "\\\\", ""), {
        maxLength: 3,
      })
      .map((pieces) => pieces.join(""));
    const texts = fc
      .tuple(wrappers, space, space, content)
      .map(([[open, close], s1, s2, c]) => `${open}"base64"${s1}:${s2}"${c}"${close}`);
    const outcome = (run: () => unknown) => {
      try {
        return { value: run() };
      } catch {
        return { threw: true };
      }
    };

    it("accepts and refuses exactly what JSON.parse does, with the same values", () => {
      fc.assert(
        fc.property(texts, (text) => {
          expect(outcome(() => parse(text))).toEqual(outcome(() => JSON.parse(text)));
        }),
        { numRuns: 3000 },
      );
    });

    it("returns the values of valid bodies built around them", () => {
      const tensor = fc.record({
        base64: fc.constantFrom(long(6), long(7), "AAAA", "\u0000", "\u00000", Array(600).fill(0)),
      });
      const body = fc.letrec((tie) => ({
        node: fc.oneof(
          { depthSize: "small" },
          tensor,
          fc.string(),
          fc.dictionary(fc.constantFrom("base64", "k", "x"), tie("node"), { maxKeys: 3 }),
          fc.array(tie("node"), { maxLength: 3 }),
        ),
      })).node;
      fc.assert(
        fc.property(body, (value) => {
          const text = JSON.stringify(value);
          expect(parse(text)).toEqual(JSON.parse(text));
        }),
        { numRuns: 2000 },
      );
    });
  });
});
