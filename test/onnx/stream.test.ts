import { equals, fromBinary } from "@bufbuild/protobuf";
import { ModelProtoSchema } from "onnx-buf";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { exportOnnx, streamOnnx } from "../../src/onnx/export.js";
import { awkward } from "../store/helpers.js";

/**
 * The streamed ModelProto (each large field after the rest of its message) is the message
 * exportOnnx builds whole, once parsed by protobuf and by ONNX Runtime, and its announced length
 * is its length.
 */

function model(dtype: "float32" | "float64") {
  const affine = (inputs: number, outputs: number): LayerSpec => ({
    type: "affine",
    W: { shape: [inputs, outputs], data: awkward(inputs * outputs, dtype) },
    b: { shape: [outputs], data: awkward(outputs, dtype) },
  });
  // 600·500 float64 values are 2.4 MB: the first W crosses the stream's 1 MiB chunks.
  const layers = [affine(600, 500), { type: "relu" }, affine(500, 3), { type: "softmaxWithLoss" }];
  return { name: "streamed", dtype, layers: layers as LayerSpec[] };
}

describe("streamOnnx", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`${dtype}: the same ModelProto as exportOnnx, and ONNX Runtime runs it`, async () => {
      const m = model(dtype);
      const stream = streamOnnx(m, "1.2.3");
      const chunks = [...stream.chunks()];
      expect(chunks.length).toBeGreaterThan(3);
      const bytes = Buffer.concat(chunks);
      expect(bytes.byteLength).toBe(stream.byteLength);
      const whole = exportOnnx(m, "1.2.3");
      expect(bytes.byteLength).toBe(whole.byteLength);
      const parsed = fromBinary(ModelProtoSchema, bytes);
      expect(equals(ModelProtoSchema, parsed, fromBinary(ModelProtoSchema, whole))).toBe(true);
      expect(parsed.graph?.initializer.map((t) => t.name)).toEqual(["0.W", "0.b", "2.W", "2.b"]);

      const streamedSession = await ort.InferenceSession.create(bytes);
      const wholeSession = await ort.InferenceSession.create(whole);
      const x = dtype === "float32" ? new Float32Array(600 * 2) : new Float64Array(600 * 2);
      for (let i = 0; i < x.length; i++) x[i] = Math.sin(i);
      const feeds = { x: new ort.Tensor(dtype, x, [2, 600]) };
      const a = (await streamedSession.run(feeds)).probabilities.data as Float64Array;
      const b = (await wholeSession.run(feeds)).probabilities.data as Float64Array;
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(a.length).toBe(6);
    });
  }
});
