import { describe, expect, it } from "vitest";
import { decodeBase64, packBase64 } from "../../src/pool/base64.js";
import { buffersOf } from "../../src/pool/tasks.js";

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

  it("decode the same from bytes as from text, and find the same problems", () => {
    const good = { shape: [2], dtype: "float32" as const, base64: text([1.5, -2]) };
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
