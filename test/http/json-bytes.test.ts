import { describe, expect, it } from "vitest";
import { jsonBytes } from "../../src/http/json-bytes.js";

const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

describe("jsonBytes: JSON with byte strings spliced in", () => {
  it("writes what JSON.stringify writes for the same strings", () => {
    const answer = (b: (s: string) => unknown) => ({
      loss: 0.25,
      out: { shape: [2, 3], dtype: "float32", base64: b("AAAAAAAA+/9=") },
      dx: [[1, 2]],
      grads: [null, { W: { shape: [1], dtype: "float64", base64: b("QUJD") }, b: [0.5] }],
      note: 'quote " and \u00e9',
    });
    const written = jsonBytes(answer(bytes));
    expect(written.toString("utf8")).toBe(JSON.stringify(answer((s) => s)));
  });

  it("writes a value without byte strings as JSON.stringify does, undefined fields left out", () => {
    expect(jsonBytes({ out: [1, 2], loss: undefined }).toString()).toBe('{"out":[1,2]}');
  });

  it("puts a byte string first, last and alone where it stands", () => {
    expect(jsonBytes([bytes("QQ=="), 1, bytes("Qg==")]).toString()).toBe('["QQ==",1,"Qg=="]');
    expect(jsonBytes(bytes("QUJD")).toString()).toBe('"QUJD"');
  });

  it("refuses a value whose own string reads like its token", () => {
    expect(() => jsonBytes({ a: "\u0000bytes", b: bytes("QQ==") })).toThrow(/token/);
  });
});
