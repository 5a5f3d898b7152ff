import { afterEach, describe, expect, it } from "vitest";
import {
  kernels,
  type MatKernels,
  setKernels,
  tsKernels,
} from "../../../src/core/kernels/index.js";
import { Affine } from "../../../src/core/layers/affine.js";
import { fromValues } from "../../../src/core/tensor.js";

describe("active kernels", () => {
  afterEach(() => setKernels(tsKernels));

  it("start as the TypeScript kernels", () => {
    expect(kernels).toBe(tsKernels);
  });

  it("are replaced for every layer by setKernels", () => {
    const calls: string[] = [];
    const spy: MatKernels = {
      ...tsKernels,
      addRowVector(...args) {
        calls.push("addRowVector");
        tsKernels.addRowVector(...args);
      },
      gemm(...args) {
        calls.push("gemm");
        tsKernels.gemm(...args);
      },
      gemmNT(...args) {
        calls.push("gemmNT");
        tsKernels.gemmNT(...args);
      },
      gemmTN(...args) {
        calls.push("gemmTN");
        tsKernels.gemmTN(...args);
      },
      colSum(...args) {
        calls.push("colSum");
        tsKernels.colSum(...args);
      },
    };
    setKernels(spy);
    expect(kernels).toBe(spy);
    const affine = new Affine(fromValues([1, 1], [2], "float64"), fromValues([1], [0], "float64"));
    affine.forward(fromValues([1, 1], [3], "float64"));
    affine.backward(fromValues([1, 1], [1], "float64"), true);
    expect(calls).toEqual(["gemm", "addRowVector", "gemmTN", "colSum", "gemmNT"]);
  });
});
