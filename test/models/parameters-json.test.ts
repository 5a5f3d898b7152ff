import { describe, expect, it } from "vitest";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import type { FloatArray } from "../../src/core/tensor.js";
import { NUMBERS_PER_SLICE, parametersJson } from "../../src/models/parameters-json.js";
import { encodeTensor, type TensorEncoding } from "../../src/wire/tensor-codec.js";
import { awkward, sameBits } from "../store/helpers.js";

/**
 * The streamed answer against the answer built whole by the wire codec (what the route sent
 * before it streamed): equal once parsed, for tensors that cross slices mid-row and for ranks
 * above 2, and base64 bit for bit against the values themselves.
 */

const ENCODINGS: TensorEncoding[] = ["nested", "flat", "base64"];
const SHAPES = [[1], [5], [NUMBERS_PER_SLICE + 1], [300, 70], [7, 50, 60], [2, 3, 4, 5]];

const affine = (shape: number[], dtype: "float32" | "float64"): LayerSpec => {
  const size = shape.reduce((a, b) => a * b, 1);
  const W = awkward(size, dtype);
  return { type: "affine", W: { shape, data: W }, b: { shape: [3], data: awkward(3, dtype) } };
};

function streamed(layers: LayerSpec[], dtype: "float32" | "float64", encoding: TensorEncoding) {
  const chunks = [...parametersJson({ dtype, layers }, encoding)];
  return { chunks, text: Buffer.concat(chunks).toString("latin1") };
}

/** As the route answered before it streamed: built whole, then JSON.stringify'd. */
function wholeAnswer(layers: LayerSpec[], dtype: string, encoding: TensorEncoding) {
  return roundTrip({
    dtype,
    layers: layers.map((l) =>
      l.type === "affine"
        ? { type: l.type, W: encodeTensor(l.W, encoding), b: encodeTensor(l.b, encoding) }
        : { type: l.type },
    ),
  });
}

const roundTrip = (value: unknown) => JSON.parse(JSON.stringify(value));

function fromBase64(text: string, dtype: "float32" | "float64"): FloatArray {
  const bytes = Buffer.from(text, "base64");
  const copy = new Uint8Array(bytes).buffer;
  return dtype === "float32" ? new Float32Array(copy) : new Float64Array(copy);
}

describe("parametersJson", () => {
  for (const dtype of ["float32", "float64"] as const) {
    for (const encoding of ENCODINGS) {
      it(`${dtype} ${encoding}: the value of the whole answer, for every shape`, () => {
        for (const shape of SHAPES) {
          const layers: LayerSpec[] = [
            affine(shape, dtype),
            { type: "relu" },
            affine([4, 3], dtype),
            { type: "softmaxWithLoss" },
          ];
          const { text } = streamed(layers, dtype, encoding);
          expect(JSON.parse(text), `shape [${shape}]`).toEqual(
            wholeAnswer(layers, dtype, encoding),
          );
        }
      });
    }

    it(`${dtype}: numbers read back as the stored values, base64 as their bits`, () => {
      const layers = [affine([300, 70], dtype), { type: "softmaxWithLoss" } as const];
      const W = (layers[0] as Extract<LayerSpec, { type: "affine" }>).W.data;
      const flat = JSON.parse(streamed(layers, dtype, "flat").text).layers[0].W.data as number[];
      expect(flat.length).toBe(W.length);
      // -0 is written as 0 (JSON has no -0), as JSON.stringify writes it.
      const read = dtype === "float32" ? Float32Array.from(flat) : Float64Array.from(flat);
      expect(Array.from(read)).toEqual(Array.from(W, (v) => (Object.is(v, -0) ? 0 : v)));
      const base64 = JSON.parse(streamed(layers, dtype, "base64").text).layers[0].W;
      expect(base64.dtype).toBe(dtype);
      expect(sameBits(fromBase64(base64.base64, dtype), W)).toBe(true);
    });
  }

  it("bounds the values each chunk formats", () => {
    const layers: LayerSpec[] = [affine([100, 1000], "float64"), { type: "softmaxWithLoss" }];
    const { chunks } = streamed(layers, "float64", "flat");
    expect(chunks.length).toBeGreaterThanOrEqual(Math.ceil(100_000 / NUMBERS_PER_SLICE));
    // A float64 takes at most 24 characters and its comma; small pieces join a chunk whole.
    const longest = Math.max(...chunks.map((c) => c.byteLength));
    expect(longest).toBeLessThanOrEqual(NUMBERS_PER_SLICE * 25 + 4096);
  });

  it("writes a model without parameters whole", () => {
    const layers: LayerSpec[] = [{ type: "relu" }, { type: "softmaxWithLoss" }];
    const { text } = streamed(layers, "float32", "nested");
    expect(text).toBe('{"dtype":"float32","layers":[{"type":"relu"},{"type":"softmaxWithLoss"}]}');
  });
});
