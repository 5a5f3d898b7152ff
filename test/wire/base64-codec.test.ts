import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Base64Codec, nativeBase64 } from "../../src/wire/base64-codec.js";
import { chunkedBase64 } from "../../src/wire/base64-wasm.js";
import { seeded } from "../helpers/tensors.js";

const native = nativeBase64();

// CI builds the addon (.ci/run): there, a missing native codec is a failure. Elsewhere (no
// compiler) its cases below are left out and the WebAssembly codec's still run.
it("the native codec is built where CI runs", () => {
  if (process.env.CI) expect(native).not.toBeNull();
});

const CODECS: [string, Base64Codec][] = [
  ["the WebAssembly SIMD codec, chunk by chunk", chunkedBase64()],
  ...(native ? [["the native codec", native] as [string, Base64Codec]] : []),
];

/** A chunk of text and what it decodes to (src/wire/base64-wasm.ts). */
const TEXT_CHUNK = 65_536;
const BYTES_CHUNK = 49_152;

function randomBytes(n: number, seed: number): Uint8Array {
  const random = seeded(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(random() * 256));
}

const ascii = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

/** Decodes text into an output with guard bytes around it: all of `bytes` there, nothing beside. */
function expectDecodesExactly(
  codec: Base64Codec,
  text: Uint8Array,
  bytes: Uint8Array,
  label: string,
) {
  const n = bytes.length;
  const guarded = new Uint8Array(n + 64).fill(0xa5);
  const out = guarded.subarray(32, 32 + n);
  expect(codec.decodeInto(text, out), `${label}: decoded`).toBe(true);
  expect(Buffer.from(out).equals(Buffer.from(bytes)), `${label}: bytes`).toBe(true);
  const outside = [...guarded.subarray(0, 32), ...guarded.subarray(32 + n)];
  expect(
    outside.every((b) => b === 0xa5),
    `${label}: bytes around out`,
  ).toBe(true);
}

describe.each(CODECS)("%s", (_name, codec) => {
  describe("encoding", () => {
    it("writes what Node's encoder writes, for every length around its blocks and chunks", () => {
      const lengths = [
        ...Array.from({ length: 80 }, (_, n) => n),
        BYTES_CHUNK - 1,
        BYTES_CHUNK,
        BYTES_CHUNK + 1,
        BYTES_CHUNK + 2,
        2 * BYTES_CHUNK + 28,
        1_000_003,
      ];
      for (const n of lengths) {
        const bytes = randomBytes(n, n + 1);
        const text = codec.encode(bytes);
        expect(Buffer.from(text).toString("latin1"), `${n} bytes`).toBe(
          Buffer.from(bytes).toString("base64"),
        );
      }
    });

    it("writes every sextet's character (all 64 of the alphabet, each in every lane)", () => {
      // 0x00 0x10 0x83 0x10 0x51 0x87 … : the sextets 0, 1, 2, …, 63 in order, twice over.
      const sextets = Array.from({ length: 128 }, (_, i) => i % 64);
      const bytes = Buffer.from(
        sextets
          .map((s) => "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[s])
          .join(""),
        "base64",
      );
      expect(Buffer.from(codec.encode(bytes)).toString("latin1")).toBe(bytes.toString("base64"));
    });

    it("agrees with Node on any bytes", () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          expect(Buffer.from(codec.encode(bytes)).toString("latin1")).toBe(
            Buffer.from(bytes).toString("base64"),
          );
        }),
      );
    });

    it("returns the text in a buffer of its own, which can be transferred", () => {
      const text = codec.encode(randomBytes(1000, 7));
      expect(text.byteOffset).toBe(0);
      expect(text.buffer.byteLength).toBe(text.length);
    });
  });

  describe("decoding, from bytes to bytes", () => {
    it("decodes what Node encodes, across chunk boundaries", () => {
      for (const n of [
        1,
        2,
        3,
        4000,
        BYTES_CHUNK,
        BYTES_CHUNK + 1,
        3 * BYTES_CHUNK + 2,
        1_000_000,
      ]) {
        const bytes = randomBytes(n, n);
        const out = new Uint8Array(n);
        expect(codec.decodeInto(ascii(Buffer.from(bytes).toString("base64")), out), `${n}`).toBe(
          true,
        );
        expect(Buffer.from(out).equals(Buffer.from(bytes)), `${n} bytes`).toBe(true);
      }
    });

    it("refuses text that is not padded base64, wherever the fault lies", () => {
      const bytes = randomBytes(3 * BYTES_CHUNK, 3);
      const good = Buffer.from(bytes).toString("base64");
      const out = new Uint8Array(bytes.length);
      const at = (i: number, c: string) => good.slice(0, i) + c + good.slice(i + 1);
      for (const [what, text] of [
        ["a character outside the alphabet in the first chunk", at(5, "*")],
        ["one in the second chunk", at(TEXT_CHUNK + 17, "-")],
        ["one in the last characters", at(good.length - 2, "_")],
        ["padding at the end of a chunk before the last", at(TEXT_CHUNK - 1, "=")],
        ["padding inside a chunk", at(100, "=")],
      ]) {
        expect(codec.decodeInto(ascii(text), out), what).toBe(false);
      }
    });

    it("decodes every length around its blocks, writing nothing outside the output", () => {
      for (let n = 0; n < 120; n++) {
        const bytes = randomBytes(n, n + 5);
        expectDecodesExactly(codec, ascii(Buffer.from(bytes).toString("base64")), bytes, `${n}`);
      }
    });

    it("takes exactly the 64 characters of the alphabet, at every place of a text", () => {
      const good = Buffer.from(randomBytes(48, 9)).toString("base64"); // 64 characters
      const out = new Uint8Array(48);
      for (let place = 0; place < good.length; place++) {
        for (let c = 0; c < 256; c++) {
          const text = ascii(good);
          text[place] = c;
          const valid = /[A-Za-z0-9+/]/.test(String.fromCharCode(c));
          if (codec.decodeInto(text, out) !== valid) {
            expect.fail(`character ${c} at ${place} is ${valid ? "refused" : "taken"}`);
          }
        }
      }
    });

    it("refuses text that does not fill the output exactly", () => {
      const text = ascii(Buffer.from(randomBytes(30, 1)).toString("base64"));
      expect(codec.decodeInto(text, new Uint8Array(29))).toBe(false);
      expect(codec.decodeInto(text, new Uint8Array(31))).toBe(false);
      expect(codec.decodeInto(text.subarray(0, 39), new Uint8Array(29))).toBe(false);
    });
  });
});

// native/openblas/openblas.c codes long text in blocks of 768 KiB (1 MiB of text), which the
// thread's helper shares from 1 MiB of text on.
describe.runIf(native)("the native codec's blocks", () => {
  const codec = native as Base64Codec;
  const BLOCK = 3 << 18;
  const SIZES = [BLOCK - 1, BLOCK, BLOCK + 1, BLOCK + 2, 2 * BLOCK, 2 * BLOCK + 1, 3 * BLOCK + 2];

  it("encode and decode every length around them as Node does", () => {
    for (const n of SIZES) {
      const bytes = randomBytes(n, n);
      const text = codec.encode(bytes);
      const expected = Buffer.from(bytes).toString("base64");
      expect(Buffer.from(text).toString("latin1") === expected, `${n} bytes encoded`).toBe(true);
      expectDecodesExactly(codec, text, bytes, `${n} bytes`);
    }
  });

  it("refuse a fault in any block, and a text that does not fill the output", () => {
    const bytes = randomBytes(3 * BLOCK + 1, 11);
    const good = ascii(Buffer.from(bytes).toString("base64"));
    const out = new Uint8Array(bytes.length);
    const chars = (BLOCK / 3) * 4;
    const at = (i: number, c: string) => {
      const text = good.slice();
      text[i] = c.charCodeAt(0);
      return text;
    };
    for (const [what, text] of [
      ["outside the alphabet in the first block", at(7, "*")],
      ["outside it at the second block's start", at(chars, "-")],
      ["outside it in the last characters", at(good.length - 3, "_")],
      ["padding that ends the first block", at(chars - 1, "=")],
      ["padding inside the third block", at(2 * chars + 100, "=")],
    ] as const) {
      expect(codec.decodeInto(text, out), what).toBe(false);
    }
    expect(codec.decodeInto(good, out)).toBe(true);
    expect(codec.decodeInto(good, new Uint8Array(bytes.length - 1))).toBe(false);
    expect(codec.decodeInto(good, new Uint8Array(bytes.length + 1))).toBe(false);
    expect(codec.decodeInto(good.subarray(0, good.length - 4), out)).toBe(false);
  });
});
