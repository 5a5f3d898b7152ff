import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { Backend } from "../../src/core/backend.js";
import { parseJsonBody } from "../../src/http/json-body.js";
import { base64Decoder, base64DecoderFor, packBase64 } from "../../src/wire/base64.js";
import { buffersOf } from "../../src/wire/tree.js";

/** Node's decoder, onto the heap: as the main thread and the TypeScript path decode. */
const decodeOnHeap = base64DecoderFor(Backend.typescript());

const text = (values: number[]) => Buffer.from(new Float32Array(values).buffer).toString("base64");

describe("base64 tensors between threads", () => {
  it("travel as bytes in buffers of their own, which a task transfers", () => {
    const x = { shape: [2], dtype: "float32" as const, base64: text([1.5, -2]) };
    const W = { shape: [1, 1], dtype: "float32" as const, base64: text([3]) };
    const task = { dtype: "float32", x, layers: [{ type: "affine", W, b: [0] }, { type: "relu" }] };
    const packed = packBase64(task);
    expect(packed.x.base64).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(packed.x.base64 as unknown as Uint8Array).toString("latin1")).toBe(x.base64);
    expect(packed.layers[1]).toEqual({ type: "relu" });
    // Each text has its own ArrayBuffer (never Node's shared pool), so moving it is safe.
    const buffers = buffersOf(packed);
    expect(buffers).toHaveLength(2);
    expect(buffers.map((b) => b.byteLength).sort((a, b) => a - b)).toEqual([8, 12]);
    expect(task.x.base64).toBe(text([1.5, -2]));
  });

  it("move the bytes the body parser lifted with their whole buffer, and only once", () => {
    const values = Array.from({ length: 2000 }, (_, i) => i);
    const base64 = text(values);
    const body = Buffer.from(`{"x":{"shape":[2000],"dtype":"float32","base64":"${base64}"}}`);
    expect(body.byteLength).toBe(body.buffer.byteLength); // its own buffer, not Node's pool
    const { x } = parseJsonBody(body) as { x: { base64: Uint8Array } };
    const first = packBase64({ x });
    expect(first.x.base64).toBe(x.base64);
    expect(buffersOf(first)).toEqual([body.buffer]);
    structuredClone(first, { transfer: buffersOf(first) }); // as postMessage moves it
    // A route that read the moved text again would send nothing: that is a bug, and says so.
    expect(() => packBase64({ x })).toThrow(/already moved/);
  });

  it("decode the same from bytes as from text, and find the same problems", () => {
    const good = { shape: [2], dtype: "float32" as const, base64: text([1.5, -2]) };
    const decodeBase64 = decodeOnHeap;
    const fromText = decodeBase64(good);
    const fromBytes = decodeBase64(packBase64(good) as never);
    expect(fromText).toEqual({ data: new Float32Array([1.5, -2]) });
    expect(fromBytes).toEqual(fromText);
    for (const base64 of ["AAAA!AAAAAA=", "AAAA-AAAAAA=", "AAAA AAAAAA="]) {
      const bad = { ...good, base64 };
      expect(decodeBase64(bad)).toEqual({ problem: "is not valid base64 (RFC 4648, padded)" });
      expect(decodeBase64(packBase64(bad) as never)).toEqual(decodeBase64(bad));
    }
    const nan = decodeBase64({ ...good, base64: text([0, Number.NaN]) });
    expect(nan).toEqual({ problem: "element 1 is NaN, not a finite number" });
  });
});

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * RFC 4648's reading of padded base64, written out: the bytes, or null when it is not base64.
 * (Node's decoder, the reference for bytes, takes text that is not: it skips what is outside the
 * alphabet, takes `-` and `_`, and stops at any `=`.)
 */
function reference(text: string): Uint8Array | null {
  if (text.length % 4 !== 0) return null;
  const body = text.replace(/={1,2}$/, "");
  if (![...body].every((c) => ALPHABET.includes(c))) return null;
  if (text.length - body.length === 2 && body.length % 4 !== 2) return null;
  if (text.length - body.length === 1 && body.length % 4 !== 3) return null;
  return new Uint8Array(Buffer.from(text, "base64"));
}

const tensorOf = (bytes: number) => ({ shape: [bytes], dtype: "float32" as const });

describe.each([
  ["WebAssembly SIMD, into the arena", true],
  ["Node's decoder", false],
])("base64 decoded by %s", (_name, wasm) => {
  const backend = wasm
    ? Backend.create("simd", { arenaBytes: 64 * 1024 * 1024 })
    : Backend.typescript();
  const { arena } = backend;
  const decodeBase64 = base64DecoderFor(backend);
  beforeAll(() => backend.begin(16 * 1024 * 1024));

  /** The decoded bytes of a text meant for `bytes` bytes, or null for the invalid-base64 problem. */
  function decode(text: string, bytes: number): Uint8Array | null {
    // The texts below decode to finite floats; their bytes are compared, not their values.
    const result = decodeBase64({ ...tensorOf(bytes / 4), base64: text });
    if ("problem" in result && result.problem.startsWith("element")) {
      throw new Error("unexpected finiteness problem");
    }
    if ("problem" in result) return null;
    expect(arena?.owns(result.data) ?? false).toBe(wasm);
    return new Uint8Array(result.data.buffer, result.data.byteOffset, result.data.byteLength);
  }

  it("reads every length, tail and padding as RFC 4648 does", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200, size: "max" }), (bytes) => {
        // Float32 tensors hold whole floats: the bytes padded with zeros to a multiple of 4, and
        // every float's top byte kept below 0x40, so no exponent is all ones (NaN or ±∞).
        const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4 || 4);
        padded.set(bytes);
        for (let i = 3; i < padded.length; i += 4) padded[i] &= 0x3f;
        const text = Buffer.from(padded).toString("base64");
        expect(decode(text, padded.length)).toEqual(padded);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses every character outside the alphabet, wherever it stands", () => {
    const zeros = Buffer.alloc(48).toString("base64"); // 64 characters of "A"
    for (let code = 0; code < 256; code++) {
      for (const at of [0, 5, 17, 40, 61]) {
        const text = zeros.slice(0, at) + String.fromCharCode(code) + zeros.slice(at + 1);
        const expected = reference(text);
        expect(decode(text, 48), `${code} at ${at}`).toEqual(expected);
      }
    }
  });

  it("refuses padding anywhere but at the end, and text of another size", () => {
    const simd = "A".repeat(64);
    const texts = [
      "AAAAAA==",
      "AAAAAAA=",
      "AAAA=A==",
      "AA==AAAA",
      "A=AAAA==",
      "AAAAA===",
      "========",
    ];
    for (const text of [...texts, ...texts.map((t) => simd + t), `${simd.slice(8)}=AAAAAAAAAA==`]) {
      const bytes = 4 + (text.length - 8) * 0.75;
      const expected = reference(text);
      expect(decode(text, bytes), text).toEqual(expected?.length === bytes ? expected : null);
    }
  });
});

describe("the WebAssembly base64 decoder", () => {
  it("writes no byte past the ones it decodes", () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const decode = base64Decoder(memory);
    const bytes = new Uint8Array(memory.buffer);
    const OUT = 8192;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300, size: "max" }), (data) => {
        const text = Buffer.from(data).toString("base64");
        Buffer.from(memory.buffer).write(text, 0, "latin1");
        bytes.fill(0xee, OUT, OUT + 512);
        expect(decode(0, text.length, OUT)).toBe(data.length);
        expect(bytes.subarray(OUT, OUT + data.length)).toEqual(data);
        expect(bytes.subarray(OUT + data.length, OUT + 512).every((b) => b === 0xee)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("falls back to Node's decoder, giving back what it took, when the text does not fit", () => {
    const fresh = Backend.create("simd", { arenaBytes: 64 * 1024 * 1024 });
    const arena = fresh.arena!;
    const decodeFresh = base64DecoderFor(fresh);
    // A new arena has 64 KiB free: room for these 40 KB of values, not for their 53 KB of text.
    const values = Float32Array.from({ length: 10_000 }, (_, i) => i / 7);
    const top = arena.mark();
    const decoded = decodeFresh({ ...tensorOf(values.length), base64: text([...values]) });
    expect(decoded).toEqual({ data: values });
    // Node's decoder wrote them where the WebAssembly one had claimed room: it gave it back.
    const { data } = decoded as { data: Float32Array };
    expect(arena.owns(data) && data.byteOffset).toBe(Math.ceil(top / 64) * 64);
  });
});
