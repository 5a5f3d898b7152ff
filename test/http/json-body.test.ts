import { describe, expect, it } from "vitest";
import { parseJsonBody } from "../../src/http/json-body.js";

const parse = (text: string) => parseJsonBody(Buffer.from(text));

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
    expect(parseJsonBody(Buffer.from('\uFEFF{"a":1}'))).toEqual({ a: 1 });
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
});
