import type { DType, FloatArray } from "../tensor.js";
import type { ArrayOps } from "./array-ops.js";
import { createTypescriptOps } from "./typescript-ops.js";

/**
 * What a candidate implementation must agree on with the TypeScript reference before the service
 * trusts it: each product with odd shapes on small integers (whose sums are exact in either
 * dtype, so the answers must be equal), and each elementwise operation on seeded values, in both
 * dtypes. It catches a library with another ABI (64-bit integers, column-major), a wrong
 * transpose or a broken build, not rounding: the kernel tests bound that.
 * Returns the first disagreement, or null.
 */
export function selfCheck(candidate: ArrayOps): string | null {
  const reference = createTypescriptOps();
  for (const dtype of ["float32", "float64"] as const) {
    const problem = checkDtype(candidate, reference, dtype);
    if (problem) return `${problem} (${dtype})`;
  }
  return null;
}

type Run = (k: ArrayOps, arrays: FloatArray[]) => unknown;

interface Case {
  readonly name: string;
  /** Length of each operand; the first `integers` operands hold small integers. */
  readonly lengths: readonly number[];
  readonly run: Run;
}

// 7×13 times 13×5: none a multiple of a vector width or a register tile.
const [M, K, N] = [7, 13, 5];

const CASES: readonly Case[] = [
  { name: "gemm", lengths: [M * K, K * N, M * N], run: (k, [a, b, c]) => k.gemm(a, b, c, M, K, N) },
  // An a of four-fifths zeros, as MNIST's images are: the openblas path skips its zeros.
  {
    name: "gemm of a mostly zero a",
    lengths: [M * K, K * N, M * N],
    run: (k, [a, b, c]) => k.gemm(a, b, c, M, K, N),
  },
  {
    name: "gemmNT",
    lengths: [M * K, N * K, M * N],
    run: (k, [a, b, c]) => k.gemmNT(a, b, c, M, K, N),
  },
  {
    name: "gemmTN",
    lengths: [K * M, K * N, M * N],
    run: (k, [a, b, c]) => k.gemmTN(a, b, c, K, M, N),
  },
  { name: "colSum", lengths: [M * N, N], run: (k, [a, out]) => k.colSum(a, out, M, N) },
  { name: "axpy", lengths: [33, 33], run: (k, [x, y]) => k.axpy(-0.37, x, y) },
  {
    name: "momentumStep",
    lengths: [33, 33, 33],
    run: (k, [W, g, v]) => k.momentumStep(W, g, v, 0.9, 0.05),
  },
  {
    name: "adamStep",
    lengths: [33, 33, 33, 33],
    run: (k, [W, g, m, v]) => k.adamStep(W, g, m, v, 0.9, 0.999, 0.001),
  },
  {
    name: "addRowVector",
    lengths: [M * N, N],
    run: (k, [out, b]) => k.addRowVector(out, b, M, N),
  },
  { name: "relu", lengths: [33, 33], run: (k, [x, out]) => k.relu(x, out) },
  {
    name: "reluBackward",
    lengths: [33, 33, 33],
    run: (k, [out, dout, dx]) => k.reluBackward(out, dout, dx),
  },
  { name: "firstNonFinite", lengths: [33], run: (k, [a]) => k.firstNonFinite(a) },
  {
    name: "gatherRows",
    lengths: [M * N, 4 * N],
    run: (k, [src, out]) => k.gatherRows(src, GATHERED, out, N),
  },
  {
    name: "gatherRowsAhead",
    lengths: [M * N, 4 * N],
    run: (k, [src, out]) => {
      k.gatherRowsAhead(src, GATHERED, out, N);
      k.gatherRowsWait();
    },
  },
  {
    name: "softmaxCrossEntropy",
    lengths: [M * N, M, M * N, M * N],
    run: (k, [x, t, y, dx]) => {
      for (let i = 0; i < M; i++) t[i] = (i * 3) % N;
      return k.softmaxCrossEntropy(x, t, y, dx, M, N);
    },
  },
];

/** Rows of a [M×N] source, out of order and one twice. */
const GATHERED = Int32Array.from([6, 0, 3, 0]);

function checkDtype(candidate: ArrayOps, reference: ArrayOps, dtype: DType): string | null {
  const array = (length: number): FloatArray =>
    dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
  const tolerance = dtype === "float32" ? 2e-6 : 1e-14;
  let seed = 1;
  // Integers in [-8, 8], and for the elementwise cases a value in (0, 1] at every fourth one
  // (Adam's v must be non-negative; ReLU sees both signs).
  const next = () => {
    seed = (seed * 48271) % 2147483647;
    return (seed % 17) - 8;
  };
  for (const c of CASES) {
    const product = c.name.startsWith("gemm") || c.name === "colSum";
    const operands = c.lengths.map((length) => {
      const a = array(length);
      for (let i = 0; i < length; i++)
        a[i] = product ? next() : next() / 8 + (i % 4 === 0 ? 1.5 : 0);
      return a;
    });
    if (c.name === "adamStep") operands[3] = operands[3].map(Math.abs);
    if (c.name === "firstNonFinite") operands[0][29] = Number.POSITIVE_INFINITY;
    if (c.name === "gemm of a mostly zero a")
      operands[0] = operands[0].map((v, i) => (i % 5 ? 0 : v));
    const mine = operands.map((a) => a.slice());
    const expected = c.run(reference, operands);
    const actual = c.run(candidate, mine);
    // Only a loss is returned inexactly: exp and log differ in their last bit between libraries.
    const returnBound = typeof expected === "number" ? tolerance * Math.abs(expected) : 0;
    if (
      actual !== expected &&
      !(Math.abs((actual as number) - (expected as number)) <= returnBound)
    )
      return `${c.name} returned ${actual}, expected ${expected}`;
    for (let o = 0; o < operands.length; o++) {
      for (let i = 0; i < operands[o].length; i++) {
        const [want, got] = [operands[o][i], mine[o][i]];
        const bound = product ? 0 : tolerance * Math.max(1, Math.abs(want));
        if (got !== want && !(Math.abs(got - want) <= bound)) {
          return `${c.name} wrote ${got} at element ${i} of operand ${o}, expected ${want}`;
        }
      }
    }
  }
  return null;
}
