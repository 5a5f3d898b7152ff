import { describe, expect, it } from "vitest";
import { Backend } from "../../src/core/backend.js";
import { clone, fromValues, zeros } from "../../src/core/tensor.js";

const backend = Backend.typescript();
const reuseOrAllocate = backend.reuse.bind(backend);

describe("clone", () => {
  it("copies shape and data", () => {
    const t = fromValues([2], [1, 2], "float32");
    const c = clone(t);
    expect(c).toEqual(t);
    c.data[0] = 9;
    expect(t.data[0]).toBe(1);
    expect(c.data).toBeInstanceOf(Float32Array);
  });
});

describe("Backend.reuse", () => {
  it("reuses data of the same dtype and length, under the new shape", () => {
    const t = zeros([2, 3], "float64");
    expect(reuseOrAllocate(t, [2, 3], "float64")).toBe(t);
    const reshaped = reuseOrAllocate(t, [3, 2], "float64");
    expect(reshaped.shape).toEqual([3, 2]);
    expect(reshaped.data).toBe(t.data);
  });

  it("allocates for another length, another dtype or nothing to reuse", () => {
    const t = zeros([2, 3], "float64");
    expect(reuseOrAllocate(t, [2, 4], "float64").data).not.toBe(t.data);
    expect(reuseOrAllocate(t, [2, 3], "float32").data).toBeInstanceOf(Float32Array);
    expect(reuseOrAllocate(null, [1], "float64").data).toEqual(Float64Array.of(0));
  });
});
