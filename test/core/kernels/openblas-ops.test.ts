import { once } from "node:events";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import type { ArrayOps } from "../../../src/core/kernels/array-ops.js";
import {
  ADDON,
  loadOpenblasOps,
  OPENBLAS_LIBRARY,
} from "../../../src/core/kernels/openblas-ops.js";
import { selfCheck } from "../../../src/core/kernels/self-check.js";
import { createTypescriptOps } from "../../../src/core/kernels/typescript-ops.js";
import { DTYPES, type DType, type FloatArray } from "../../../src/core/tensor.js";
import { mulberry32 } from "../helpers.js";
import {
  absolute,
  errorFactor,
  filled,
  integer,
  nans,
  OPERATIONS,
  type Operation,
  SHAPES,
  type Shape,
  uniform,
} from "./product-cases.js";

const tsKernels = createTypescriptOps();
const native = loadOpenblasOps();
const loaded = "ops" in native;

// CI installs libopenblas0-pthread and builds the addon (.ci/run): there, a missing path is a
// failure. Elsewhere (a machine without OpenBLAS or a compiler) the cases below are skipped, and
// the rest of the suite runs on WebAssembly.
describe("the openblas path", () => {
  it("loads where CI runs, or says why not", () => {
    if (process.env.CI) expect(native).toHaveProperty("ops");
    if ("reason" in native) expect(native.reason).toMatch(/native BLAS/);
    else expect(native.config).toMatch(/^OpenBLAS \d+\.\d+\.\d+/);
  });

  it("names the library and the package to install when the library is absent", () => {
    const absent = loadOpenblasOps("libopenblas-absent.so.9");
    expect(absent).not.toHaveProperty("ops");
    const { reason } = absent as { reason: string };
    // Without the addon built, the reason is the addon's; with it (whether or not this machine
    // has the library), the library's.
    const addonBuilt = !("reason" in native && /native BLAS addon/.test(native.reason));
    if (addonBuilt) {
      expect(reason).toMatch(
        /^native BLAS not found: install libopenblas0-pthread for libopenblas-absent\.so\.9 \(.*libopenblas-absent\.so\.9/,
      );
    } else expect(reason).toMatch(/native BLAS addon/);
  });

  it("returns the same answer for the same library, loading it once", () => {
    expect(loadOpenblasOps(OPENBLAS_LIBRARY)).toBe(native);
  });

  it("turns away kernels that disagree with the reference", () => {
    const wrong: ArrayOps = { ...tsKernels, gemmNT: tsKernels.gemm as ArrayOps["gemmNT"] };
    expect(selfCheck(wrong)).toMatch(/^gemmNT wrote .* \(float32\)$/);
    const lost: ArrayOps = { ...tsKernels, firstNonFinite: () => -1 };
    expect(selfCheck(lost)).toBe("firstNonFinite returned -1, expected 29 (float32)");
    expect(selfCheck(tsKernels)).toBeNull();
  });
});

/** `length` elements in memory of `kind`, with signalling NaN on either side of the view. */
type Memory = "heap" | "shared" | "wasm";
const MEMORIES: readonly Memory[] = ["heap", "shared", "wasm"];
const PAD = 16;

function placed(kind: Memory, dtype: DType, values: FloatArray, shift: number) {
  const size = dtype === "float32" ? 4 : 8;
  const bytes = (PAD + shift + values.length + PAD) * size;
  const buffer =
    kind === "heap"
      ? new ArrayBuffer(bytes)
      : kind === "shared"
        ? new SharedArrayBuffer(bytes)
        : new WebAssembly.Memory({ initial: Math.ceil((bytes + 64) / 65536) }).buffer;
  // In WebAssembly memory, at an odd offset of 8 bytes past a page's start, as arena views are not
  const base = kind === "wasm" ? 8 : 0;
  const all =
    dtype === "float32"
      ? new Float32Array(buffer, base, bytes / size)
      : new Float64Array(buffer, base, bytes / size);
  if (all instanceof Float32Array)
    new Uint32Array(all.buffer, all.byteOffset, all.length).fill(0x7fa5a5a5);
  else new BigUint64Array(all.buffer, all.byteOffset, all.length).fill(0x7ff5a5a5a5a5a5a5n);
  const view = all.subarray(PAD + shift, PAD + shift + values.length);
  view.set(values);
  const whole = () => new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
  const before = whole().slice();
  const [start, end] = [(PAD + shift) * size, (PAD + shift + values.length) * size];
  return {
    view,
    expectIntact(label: string, inside: boolean) {
      const after = whole();
      for (let i = 0; i < after.length; i++) {
        if (after[i] !== before[i] && (inside || i < start || i >= end)) {
          throw new Error(`${label}: byte ${i - start} from the view's start was written`);
        }
      }
    },
  };
}

/** `op` on copies of a and b placed in `kind` memory, `out` full of NaN first; its output. */
function run(
  kernels: ArrayOps,
  kind: Memory,
  op: Operation,
  shape: Shape,
  a: FloatArray,
  b: FloatArray,
  label: string,
): FloatArray {
  const dtype = a instanceof Float32Array ? "float32" : "float64";
  const random = mulberry32(a.length + 3 * b.length);
  const shift = () => Math.floor(random() * 4);
  const [x, y] = [placed(kind, dtype, a, shift()), placed(kind, dtype, b, shift())];
  const out = placed(kind, dtype, nans(dtype, op.lengths(shape)[2]), shift());
  op.run(kernels, x.view, y.view, out.view, shape);
  x.expectIntact(`${label}, a`, true);
  y.expectIntact(`${label}, b`, true);
  out.expectIntact(`${label}, out`, false);
  return out.view.slice();
}

/**
 * `op` of the kernels on `shapes` (operands uniform in [-1, 1], in each kind of memory in turn)
 * must stay within the rounding bound of the TypeScript kernels' answer, and write only its out.
 * `before` runs ahead of each shape.
 */
function expectWithinBound(
  kernels: ArrayOps,
  op: Operation,
  dtype: DType,
  shapes: readonly Shape[],
  before: (shape: Shape) => void = () => {},
): void {
  const random = mulberry32(op.name.length * 31 + dtype.length);
  for (const [s, shape] of shapes.entries()) {
    before(shape);
    const [lengthA, lengthB] = op.lengths(shape);
    const a = filled(dtype, lengthA, uniform(random));
    const b = filled(dtype, lengthB, uniform(random));
    const kind = MEMORIES[s % MEMORIES.length];
    const label = `openblas ${op.name} ${dtype} [${shape.join("×")}] in ${kind} memory`;
    const actual = run(kernels, kind, op, shape, a, b, label);
    const expected = nans(dtype, actual.length);
    op.run(tsKernels, a, b, expected, shape);
    const bound = new Float64Array(actual.length);
    op.run(tsKernels, absolute(a), absolute(b), bound, shape);
    const factor = errorFactor(dtype, shape[1]);
    for (let i = 0; i < actual.length; i++) {
      if (!(Math.abs(actual[i] - expected[i]) <= factor * bound[i])) {
        throw new Error(
          `${label}: element ${i} is ${actual[i]}, TypeScript gives ${expected[i]}, ` +
            `further apart than ${factor * bound[i]}`,
        );
      }
    }
  }
}

describe.runIf(loaded)("OpenBLAS ops", () => {
  const kernels = loaded ? native.ops : tsKernels;

  for (const dtype of DTYPES) {
    for (const op of OPERATIONS) {
      it(`${op.name} on ${dtype} is within the rounding bound of the TypeScript kernels`, () => {
        expectWithinBound(kernels, op, dtype, SHAPES);
      });

      it(`${op.name} on ${dtype} is exact on small integers, in every kind of memory`, () => {
        const random = mulberry32(op.name.length * 17 + dtype.length);
        for (const shape of SHAPES) {
          const [lengthA, lengthB] = op.lengths(shape);
          const a = filled(dtype, lengthA, integer(random));
          const b = filled(dtype, lengthB, integer(random));
          const expected = nans(dtype, op.lengths(shape)[2]);
          op.run(tsKernels, a, b, expected, shape);
          for (const kind of MEMORIES) {
            const label = `openblas ${op.name} ${dtype} [${shape.join("×")}] in ${kind} memory`;
            const actual = run(kernels, kind, op, shape, a, b, label);
            for (let i = 0; i < actual.length; i++) {
              if (actual[i] !== expected[i]) {
                throw new Error(`${label}: element ${i} is ${actual[i]}, not ${expected[i]}`);
              }
            }
          }
        }
      });
    }

    // Lengths around vector widths, and past firstNonFinite's 1024-element screening blocks.
    const LENGTHS = [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 1000, 1023, 1024, 1025, 5000];

    /** Runs an elementwise kernel on both paths; every operand must end bit for bit the same. */
    function sameBits(
      n: number,
      count: number,
      call: (k: ArrayOps, arrays: FloatArray[]) => unknown,
      positive: number[] = [],
    ) {
      const random = mulberry32(n * 7 + count);
      const ours = Array.from({ length: count }, (_, i) =>
        filled(dtype, n, positive.includes(i) ? () => random() + 0.01 : uniform(random)),
      );
      const reference = ours.map((a) => a.slice());
      expect(call(kernels, ours)).toBe(call(tsKernels, reference));
      for (const [i, a] of ours.entries())
        expect(a, `operand ${i}, n = ${n}`).toEqual(reference[i]);
    }

    it(`axpy, momentumStep and adamStep give the reference's very bits (${dtype})`, () => {
      for (const n of LENGTHS) {
        sameBits(n, 2, (k, [x, y]) => k.axpy(-0.37, x, y));
        sameBits(n, 3, (k, [W, g, v]) => k.momentumStep(W, g, v, 0.9, 0.05));
        sameBits(n, 4, (k, [W, g, m, v]) => k.adamStep(W, g, m, v, 0.9, 0.999, 0.003), [3]);
      }
    });

    it(`addRowVector, relu, reluBackward and colSum give the reference's very bits (${dtype})`, () => {
      for (const n of LENGTHS) {
        sameBits(3 * n, 2, (k, [out, b]) => k.addRowVector(out, b.subarray(0, n), 3, n));
        sameBits(n, 2, (k, [x, out]) => k.relu(x, out));
        sameBits(n, 3, (k, [out, dout, dx]) => k.reluBackward(out, dout, dx));
        sameBits(7 * n, 2, (k, [a, out]) => k.colSum(a, out.subarray(0, n), 7, n));
      }
    });

    it(`relu keeps NaN for the finiteness check and makes -0 into +0 (${dtype})`, () => {
      const x = filled(dtype, 5, () => 0);
      x.set([Number.NaN, -0, -1, 2, Number.NEGATIVE_INFINITY]);
      const out = filled(dtype, 5, () => 7);
      kernels.relu(x, out);
      expect(Array.from(out)).toEqual([Number.NaN, 0, 0, 2, 0]);
      expect(Object.is(out[1], 0)).toBe(true);
    });

    it(`firstNonFinite finds the first NaN or infinity anywhere (${dtype})`, () => {
      for (const n of LENGTHS) {
        const a = filled(dtype, n, () => 0.5);
        expect(kernels.firstNonFinite(a)).toBe(-1);
        // The largest finite values have all but one exponent bit set.
        a.fill(dtype === "float32" ? 3.4028234663852886e38 : Number.MAX_VALUE);
        expect(kernels.firstNonFinite(a)).toBe(-1);
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          for (const at of new Set([0, n >> 1, n - 1])) {
            a[at] = bad;
            if (at + 1 < n) a[n - 1] = Number.NaN;
            expect(kernels.firstNonFinite(a)).toBe(at);
            a.fill(0.5, at);
          }
        }
      }
    });

    // Gathered at once, and ahead (on another core) then waited for.
    const gathers = {
      gatherRows: (
        k: ArrayOps,
        src: FloatArray,
        rows: Int32Array,
        out: FloatArray,
        width: number,
      ) => k.gatherRows(src, rows, out, width),
      gatherRowsAhead: (
        k: ArrayOps,
        src: FloatArray,
        rows: Int32Array,
        out: FloatArray,
        width: number,
      ) => {
        k.gatherRowsAhead(src, rows, out, width);
        k.gatherRowsWait();
      },
    };
    for (const [name, gather] of Object.entries(gathers)) {
      it(`${name} gives the reference's very bits, from either dtype, in every memory (${dtype})`, () => {
        const random = mulberry32(dtype.length * 13);
        for (const width of [1, 3, 17, 784]) {
          for (const from of DTYPES) {
            const count = 11;
            const source = filled(from, count * width, uniform(random));
            // Out of order, repeated, the first and the last row.
            const rows = Int32Array.from([10, 0, 3, 3, 7, 1, 10, 5]);
            const expected = nans(dtype, rows.length * width);
            tsKernels.gatherRows(source, rows, expected, width);
            for (const kind of MEMORIES) {
              const src = placed(kind, from, source, 1);
              const out = placed(kind, dtype, nans(dtype, rows.length * width), 2);
              gather(kernels, src.view, rows, out.view, width);
              src.expectIntact(`${name} ${from}→${dtype} src in ${kind}`, true);
              out.expectIntact(`${name} ${from}→${dtype} out in ${kind}`, false);
              expect(out.view, `width ${width}, ${from} → ${dtype}, ${kind}`).toEqual(expected);
            }
            // Row 3 of src is row 2 of out, cast once into dtype.
            const value = source[3 * width];
            expect(expected[2 * width]).toBe(dtype === "float32" ? Math.fround(value) : value);
          }
        }
      });
    }

    it(`gatherRows turns away a row src does not have, writing nothing (${dtype})`, () => {
      const src = filled(dtype, 12, () => 1);
      const out = filled(dtype, 8, () => 9);
      for (const [row, at] of [
        [3, 1],
        [-1, 1],
        [2 ** 31 - 1, 1],
      ]) {
        const rows = Int32Array.from([0, 0]);
        rows[at] = row;
        const call = () => kernels.gatherRows(src, rows, out, 4);
        expect(call).toThrow(RangeError);
        expect(call).toThrow(`rows[${at}] is ${row}, src has 3 rows of 4`);
        expect(() => tsKernels.gatherRows(src, rows, out, 4)).toThrow(
          `rows[${at}] is ${row}, src has 3 rows of 4`,
        );
      }
      expect(Array.from(out)).toEqual(new Array(8).fill(9));
      expect(() => kernels.gatherRows(src, new Int32Array(3), out, 4)).toThrow(
        /^gatherRows: out has 8 elements, the operation needs 12$/,
      );
      expect(() => kernels.gatherRows(src, Float64Array.of(0) as never, out, 4)).toThrow(
        /^gatherRows: rows must be an Int32Array$/,
      );
    });

    it(`gatherRowsAhead runs one gather at a time, each whole once waited for (${dtype})`, () => {
      const random = mulberry32(dtype.length * 19);
      const [count, width, batch] = [4000, 784, 100];
      const source = filled(dtype, count * width, uniform(random));
      const outs = [filled(dtype, batch * width, () => 0), filled(dtype, batch * width, () => 0)];
      const rows = [new Int32Array(batch), new Int32Array(batch)];
      const expected = filled(dtype, batch * width, () => 0);
      // As the trainer uses it: gather the next batch while the last one is read. Alternate
      // waits with none, since a gather started while one is in flight must finish that one.
      for (let i = 0; i < 400; i++) {
        const k = i % 2;
        for (let r = 0; r < batch; r++) rows[k][r] = Math.floor(random() * count);
        kernels.gatherRowsAhead(source, rows[k], outs[k], width);
        if (i % 3 !== 0) kernels.gatherRowsWait();
        else kernels.gatherRowsAhead(source, rows[k], outs[k], width);
        kernels.gatherRowsWait();
        tsKernels.gatherRows(source, rows[k], expected, width);
        // The first element that differs (toEqual on 78 400 of them, 400 times, takes minutes).
        const differs = outs[k].findIndex((v, j) => v !== expected[j]);
        expect(differs, `gather ${i}`).toBe(-1);
      }
      kernels.gatherRowsWait(); // with nothing in flight: returns
    });

    it(`gatherRowsAhead turns away a bad row before copying any, leaving none in flight (${dtype})`, () => {
      const src = filled(dtype, 12, () => 1);
      const out = filled(dtype, 8, () => 9);
      const call = () => kernels.gatherRowsAhead(src, Int32Array.of(0, 3), out, 4);
      expect(call).toThrow(RangeError);
      expect(call).toThrow("rows[1] is 3, src has 3 rows of 4");
      kernels.gatherRowsWait();
      expect(Array.from(out)).toEqual(new Array(8).fill(9));
      expect(() => kernels.gatherRowsAhead(src, new Int32Array(3), out, 4)).toThrow(
        /^gatherRowsAhead: out has 8 elements, the operation needs 12$/,
      );
    });

    it(`softmaxCrossEntropy is within rounding of the reference on odd shapes (${dtype})`, () => {
      const random = mulberry32(dtype.length * 29);
      // Rounding of one exp and one log apart: a few units in the dtype's last place.
      const tolerance = dtype === "float32" ? 3e-7 : 1e-15;
      for (const [n, classes] of [
        [1, 1],
        [1, 2],
        [3, 3],
        [7, 10],
        [100, 10],
        [5, 257],
        [2, 1000],
      ]) {
        // Scores far apart as well as close: the row max must keep every exp finite.
        const scale = n % 2 ? 40 : 1;
        const x = filled(dtype, n * classes, () => (random() * 2 - 1) * scale);
        const t = filled(dtype, n, () => Math.floor(random() * classes));
        const [y, dx, yRef, dxRef] = [0, 1, 2, 3].map(() => nans(dtype, n * classes));
        const loss = kernels.softmaxCrossEntropy(x, t, y, dx, n, classes);
        const expected = tsKernels.softmaxCrossEntropy(x, t, yRef, dxRef, n, classes);
        const label = `[${n}×${classes}]`;
        expect(Math.abs(loss - expected), `${label} loss`).toBeLessThanOrEqual(
          tolerance * Math.max(1, expected),
        );
        for (let i = 0; i < n * classes; i++) {
          expect(Math.abs(y[i] - yRef[i]), `${label} y[${i}]`).toBeLessThanOrEqual(tolerance);
          expect(Math.abs(dx[i] - dxRef[i]), `${label} dx[${i}]`).toBeLessThanOrEqual(tolerance);
        }
      }
    });

    it(`softmaxCrossEntropy turns away labels that are no class index (${dtype})`, () => {
      const x = filled(dtype, 6, () => 0.5);
      const [y, dx] = [nans(dtype, 6), nans(dtype, 6)];
      for (const [bad, at] of [
        [3, 1],
        [-1, 0],
        [1.5, 1],
        [Number.NaN, 0],
      ]) {
        const t = filled(dtype, 2, () => 0);
        t[at] = bad;
        for (const ops of [kernels, tsKernels]) {
          const call = () => ops.softmaxCrossEntropy(x, t, y, dx, 2, 3);
          expect(call).toThrow(RangeError);
          expect(call).toThrow(`t[${at}] is not a class index in 0..2`);
        }
      }
      expect(() => kernels.softmaxCrossEntropy(x, x, y, dx, 3, 3)).toThrow(
        /^softmaxCrossEntropy: x has 6 elements, the operation needs 9$/,
      );
    });

    it(`throws a TypeError naming the problem, writing nothing (${dtype})`, () => {
      const a = filled(dtype, 6, () => 1);
      const out = filled(dtype, 4, () => 9);
      const other = dtype === "float32" ? new Float64Array(6) : new Float32Array(6);
      const calls: [() => unknown, RegExp][] = [
        [
          () => kernels.gemm(a, a, out, 3, 2, 3),
          /^gemm: out has 4 elements, the operation needs 9$/,
        ],
        [() => kernels.gemm(a, other, out, 2, 3, 2), /^gemm: b must be of the same dtype/],
        [
          () => kernels.gemm(a, a, out, 2, 1.5, 2),
          /^gemm: the second dimension must be a non-negative integer$/,
        ],
        [() => kernels.gemmTN(a, a, out, -1, 2, 2), /^gemmTN: the first dimension must be/],
        [
          () => kernels.gemmNT(a, [1, 2] as never, out, 2, 2, 2),
          /^gemmNT: b must be a Float32Array or Float64Array$/,
        ],
        [() => kernels.axpy(0.5, out, a), /^axpy: x has 4 elements, the operation needs 6$/],
        [() => kernels.axpy("2" as never, a, a), /^axpy: alpha must be a number$/],
        [() => kernels.adamStep(a, a, a, out, 0.9, 0.999, 0.1), /^adamStep: v has 4 elements/],
        [() => kernels.colSum(a, out, 2, 5), /^colSum: a has 6 elements, the operation needs 10$/],
        [() => (kernels.relu as (x: FloatArray) => void)(a), /^relu: takes 2 arguments$/],
        [() => kernels.firstNonFinite(new Int32Array(3) as never), /^firstNonFinite: a must be/],
      ];
      for (const [call, message] of calls) {
        expect(call).toThrow(TypeError);
        expect(call).toThrow(message);
      }
      expect(Array.from(out)).toEqual([9, 9, 9, 9]);
    });

    if (dtype === "float32") {
      /**
       * What gemm computes for an a that is mostly zeros (native/openblas/sparse-products.c): for
       * each element, the non-zero terms in order of the inner index, each product and each sum
       * rounded to float. A hand loop, not the addon's code.
       */
      function zeroSkipping(a: FloatArray, b: FloatArray, [m, k, n]: Shape): Float32Array {
        const out = new Float32Array(m * n);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let sum = 0;
            for (let p = 0; p < k; p++) {
              const v = a[i * k + p];
              if (v !== 0) sum = Math.fround(sum + Math.fround(v * b[p * n + j]));
            }
            out[i * n + j] = sum;
          }
        }
        return out;
      }

      /** a with one entry in five non-zero (the addon skips zeros when at most a quarter are not). */
      const sparse = (random: () => number, length: number) =>
        filled(
          dtype,
          length,
          (() => {
            let i = 0;
            return () => (i++ % 5 === 0 ? random() * 2 - 1 : 0);
          })(),
        );

      // Column counts around the kernel's 8-wide vectors and 64-column passes; MNIST's shapes.
      const SPARSE_SHAPES: Shape[] = [
        [1, 1, 1],
        [3, 7, 9],
        [9, 13, 8],
        [5, 40, 63],
        [4, 33, 64],
        [6, 17, 65],
        [2, 30, 130],
        [100, 784, 50],
        [100, 50, 10],
      ];

      it("gemm of a mostly zero a gives the bits of summing its non-zero terms, in every memory", () => {
        const random = mulberry32(77);
        const gemm = OPERATIONS[0];
        for (const shape of SPARSE_SHAPES) {
          const [m, k, n] = shape;
          const a = sparse(random, m * k);
          const b = filled(dtype, k * n, uniform(random));
          const expected = zeroSkipping(a, b, shape);
          for (const kind of MEMORIES) {
            const label = `sparse gemm [${shape.join("×")}] in ${kind} memory`;
            expect(run(kernels, kind, gemm, shape, a, b, label), label).toEqual(expected);
          }
        }
      });

      it("gemm of a mostly zero a spreads its NaN, and gives zeros for an all-zero a", () => {
        const [m, k, n] = [10, 40, 9];
        const a = filled(
          dtype,
          m * k,
          (() => {
            let i = 0;
            return () => (i++ % 7 === 0 ? 0.5 : 0);
          })(),
        );
        a[3 * k + 5] = Number.NaN;
        const b = filled(dtype, k * n, () => 0.25);
        const out = nans(dtype, m * n);
        kernels.gemm(a, b, out, m, k, n);
        for (let i = 0; i < m; i++) {
          const row = Array.from(out.subarray(i * n, (i + 1) * n));
          if (i === 3) expect(row.every(Number.isNaN), `row ${i}`).toBe(true);
          else expect(row.every(Number.isFinite), `row ${i}`).toBe(true);
        }
        const zeros = filled(dtype, m * k, () => 0);
        kernels.gemm(zeros, b, out, m, k, n);
        expect(Array.from(out)).toEqual(new Array(m * n).fill(0));
      });
    }

    it(`overwrites out without reading it and gives zeros for an empty inner size (${dtype})`, () => {
      const a = filled(dtype, 6 * 600, () => 0.5);
      const b = filled(dtype, 600 * 13, () => 0.25);
      const out = filled(dtype, 6 * 13, () => 0);
      for (const fill of [1e30, -7, Number.NaN]) {
        out.fill(fill);
        kernels.gemm(a, b, out, 6, 600, 13);
        expect(Array.from(out)).toEqual(new Array(6 * 13).fill(75));
        out.fill(fill);
        kernels.gemmTN(a, b, out, 0, 6, 13);
        expect(Array.from(out)).toEqual(new Array(6 * 13).fill(0));
      }
    });
  }
});

// native/openblas/openblas.c runs float64 products op(A)·B in blocks of output rows that fit
// OpenBLAS's small-matrix kernels, on the cores that have them.
describe.runIf(loaded)("float64 products in row blocks", () => {
  const addon = createRequire(import.meta.url)(ADDON) as {
    dgemmBlockLimit(limit?: number): number;
  };
  const { ops, config } = loaded ? native : { ops: tsKernels, config: "" };

  it("are on where the library's core has the small-matrix kernels, and only there", () => {
    const expected = /\b(SkylakeX|Cooperlake|SapphireRapids)\b/i.test(config) ? 1e6 : 0;
    expect(addon.dgemmBlockLimit()).toBe(expected);
  });

  for (const op of OPERATIONS.filter(({ name }) => name === "gemm" || name === "gemmTN")) {
    it(`${op.name} in blocks of 12 rows is within the rounding bound and writes only its out`, () => {
      const opened = addon.dgemmBlockLimit();
      try {
        // A limit of 12.5 rows' multiply-adds: blocks of 12 rows and a shorter last one.
        expectWithinBound(
          ops,
          op,
          "float64",
          SHAPES.filter(([m]) => m > 12),
          ([, k, n]) => {
            addon.dgemmBlockLimit(12.5 * k * n);
            expect(addon.dgemmBlockLimit()).toBe(12.5 * k * n);
          },
        );
      } finally {
        addon.dgemmBlockLimit(opened);
      }
    });
  }
});

// A product of at least 2²⁵ multiply-adds is cut into blocks of rows, which the calling thread
// and its helper thread share when the helper has a core (native/openblas/openblas.c).
describe.runIf(loaded)("products shared with the helper thread", () => {
  const ops = loaded ? native.ops : tsKernels;
  const LARGE: Shape[] = [
    [256, 512, 256],
    [1000, 784, 50],
  ];
  for (const dtype of DTYPES) {
    for (const op of OPERATIONS.filter(({ name }) => name !== "colSum")) {
      it(`${op.name} on ${dtype} is within the rounding bound, with the same bits every time`, () => {
        expectWithinBound(ops, op, dtype, LARGE);
        const random = mulberry32(5);
        for (const shape of LARGE) {
          const [lengthA, lengthB, lengthOut] = op.lengths(shape);
          const a = filled(dtype, lengthA, uniform(random));
          const b = filled(dtype, lengthB, uniform(random));
          const first = nans(dtype, lengthOut);
          op.run(ops, a, b, first, shape);
          for (let again = 0; again < 4; again++) {
            const out = nans(dtype, lengthOut);
            op.run(ops, a, b, out, shape);
            expect(out, `${op.name} [${shape.join("×")}], run ${again + 2}`).toEqual(first);
          }
        }
      });
    }
  }

  describe.runIf(availableParallelism() > 1)("with a second core", () => {
    const require = createRequire(import.meta.url);
    const addon = require(ADDON) as { helperBlocks(): number };
    const gemm = OPERATIONS.find(({ name }) => name === "gemm")!;
    const shape: Shape = [1000, 784, 50];
    const [lengthA, lengthB, lengthOut] = gemm.lengths(shape);
    const random = mulberry32(8);
    const a = filled("float32", lengthA, uniform(random));
    const b = filled("float32", lengthB, uniform(random));
    const out = nans("float32", lengthOut);
    const product = () => gemm.run(ops, a, b, out, shape);

    /** Runs products until the helper has done a block of one (the scheduler may hold it back
     * for a few); false if it did none in 200. */
    function lent(): boolean {
      const before = addon.helperBlocks();
      for (let i = 0; i < 200 && addon.helperBlocks() === before; i++) product();
      return addon.helperBlocks() > before;
    }

    it("lend blocks to the helper while no other thread holds a task", () => {
      expect(lent()).toBe(true);
    });

    it("keep them all while another thread holds one, and lend again once it has ended", async () => {
      // A thread that holds a task and is then ended during it, as an aborted task's worker is.
      const holder = new Worker(
        `const addon = require(${JSON.stringify(require.resolve(ADDON))});
         addon.computing(true);
         require("node:worker_threads").parentPort.postMessage("holding");
         setInterval(() => {}, 1000);`,
        { eval: true },
      );
      await once(holder, "message");
      const before = addon.helperBlocks();
      for (let i = 0; i < 20; i++) product();
      expect(addon.helperBlocks(), "blocks the helper did beside another task").toBe(before);
      await holder.terminate();
      expect(lent()).toBe(true);
    });
  });
});
