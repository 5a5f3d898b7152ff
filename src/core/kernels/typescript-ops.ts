import { type FloatArray, firstNonFinite } from "../tensor.js";
import type { ArrayOps } from "./array-ops.js";
import { softmaxCrossEntropy } from "./softmax.js";

/**
 * Matrix products in plain TypeScript, blocked as in GotoBLAS (Goto & van de Geijn, "Anatomy of
 * High-Performance Matrix Multiplication", 2008): a KC-deep slab of B is packed into NR-wide
 * panels, an MC×KC block of A into MR-tall panels, and a 4×4 micro-kernel keeps its 16 sums in
 * scalar registers. V8 does not vectorise, so what counts is few loads and no bounds-check-heavy
 * index arithmetic per multiply-add: packed panels give one running index each.
 *
 * Packed panels are float64 whatever the dtype, so float32 products are accumulated in float64 and
 * rounded once per KC slab. Transposes are never materialised: each product is one strided
 * element access `A(i, p) = a[i·aRow + p·aCol]`, `B(p, j) = b[p·bRow + j·bCol]`, and the strides
 * fold the transpose into the packing loops.
 */

const MR = 4;
const NR = 4;
/** Depth of a slab: an MR×KC panel of A (8 KiB) plus a KC×NR panel of B stay in L1. */
const KC = 256;
/** Rows of A per block: MC×KC doubles (256 KiB) stay in L2. */
const MC = 128;
/** Columns of B per slab: KC×NC doubles (2 MiB) stay in L2/L3. */
const NC = 1024;

/**
 * One set of ops' working memory: the packed panels, an edge tile's 16 sums before the valid part
 * is written out, and colSum's float64 sums. Grown on demand, never shrunk; ops run to completion
 * and never call out, so no two calls share it at once.
 */
class Scratch {
  packedA = new Float64Array(0);
  packedB = new Float64Array(0);
  readonly edgeTile = new Float64Array(MR * NR);
  columnSums = new Float64Array(0);
  /** One row of softmax's exponentials. */
  exps = new Float64Array(0);

  ensure(aLength: number, bLength: number): void {
    if (this.packedA.length < aLength) this.packedA = new Float64Array(aLength);
    if (this.packedB.length < bLength) this.packedB = new Float64Array(bLength);
  }
}

/**
 * Packs B(pc..pc+kc, jc..jc+nc) as NR-wide panels, each kc rows deep: panel after panel,
 * row after row, zero-padded past column N (those sums are computed but never written out).
 */
function packB(
  b: FloatArray,
  bRow: number,
  bCol: number,
  pc: number,
  kc: number,
  jc: number,
  nc: number,
  N: number,
  dst: Float64Array,
): void {
  let q = 0;
  for (let j = jc; j < jc + nc; j += NR) {
    if (j + NR <= N) {
      let s = pc * bRow + j * bCol;
      for (let p = 0; p < kc; p++, s += bRow, q += NR) {
        dst[q] = b[s];
        dst[q + 1] = b[s + bCol];
        dst[q + 2] = b[s + 2 * bCol];
        dst[q + 3] = b[s + 3 * bCol];
      }
    } else {
      for (let p = pc; p < pc + kc; p++) {
        for (let c = 0; c < NR; c++, q++) dst[q] = j + c < N ? b[p * bRow + (j + c) * bCol] : 0;
      }
    }
  }
}

/**
 * Packs A(ic..ic+mc, pc..pc+kc) as MR-tall panels, each kc columns deep: column after column,
 * zero-padded past row M.
 */
function packA(
  a: FloatArray,
  aRow: number,
  aCol: number,
  ic: number,
  mc: number,
  pc: number,
  kc: number,
  M: number,
  dst: Float64Array,
): void {
  let q = 0;
  for (let i = ic; i < ic + mc; i += MR) {
    if (i + MR <= M) {
      let s = i * aRow + pc * aCol;
      for (let p = 0; p < kc; p++, s += aCol, q += MR) {
        dst[q] = a[s];
        dst[q + 1] = a[s + aRow];
        dst[q + 2] = a[s + 2 * aRow];
        dst[q + 3] = a[s + 3 * aRow];
      }
    } else {
      for (let p = pc; p < pc + kc; p++) {
        for (let r = 0; r < MR; r++, q++) dst[q] = i + r < M ? a[(i + r) * aRow + p * aCol] : 0;
      }
    }
  }
}

/**
 * out[o + r·N + c] += Σ_p A(r, p)·B(p, c) for the rows × cols corner of one 4×4 tile, reading
 * kc steps of a packed A panel (from qa) and a packed B panel (from qb).
 */
// biome-ignore format: the 4×4 tile reads best laid out as a 4×4 grid
function microKernel(
  edge: Float64Array,
  kc: number,
  ap: Float64Array,
  qa: number,
  bp: Float64Array,
  qb: number,
  out: FloatArray,
  o: number,
  N: number,
  rows: number,
  cols: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  const end = qb + NR * kc;
  for (; qb < end; qb += NR, qa += MR) {
    const b0 = bp[qb], b1 = bp[qb + 1], b2 = bp[qb + 2], b3 = bp[qb + 3];
    let av = ap[qa];
    c00 += av * b0; c01 += av * b1; c02 += av * b2; c03 += av * b3;
    av = ap[qa + 1];
    c10 += av * b0; c11 += av * b1; c12 += av * b2; c13 += av * b3;
    av = ap[qa + 2];
    c20 += av * b0; c21 += av * b1; c22 += av * b2; c23 += av * b3;
    av = ap[qa + 3];
    c30 += av * b0; c31 += av * b1; c32 += av * b2; c33 += av * b3;
  }
  if (rows === MR && cols === NR) {
    out[o] += c00; out[o + 1] += c01; out[o + 2] += c02; out[o + 3] += c03; o += N;
    out[o] += c10; out[o + 1] += c11; out[o + 2] += c12; out[o + 3] += c13; o += N;
    out[o] += c20; out[o + 1] += c21; out[o + 2] += c22; out[o + 3] += c23; o += N;
    out[o] += c30; out[o + 1] += c31; out[o + 2] += c32; out[o + 3] += c33;
    return;
  }
  const t = edge;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03;
  t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
  t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
  t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[o + r * N + c] += t[r * NR + c];
  }
}

/** out[M×N] = A·B with A(i, p) = a[i·aRow + p·aCol] and B(p, j) = b[p·bRow + j·bCol]. */
function gemmStrided(
  scratch: Scratch,
  a: FloatArray,
  aRow: number,
  aCol: number,
  b: FloatArray,
  bRow: number,
  bCol: number,
  out: FloatArray,
  M: number,
  K: number,
  N: number,
): void {
  out.fill(0, 0, M * N);
  if (M === 0 || N === 0 || K === 0) return;
  const kcMax = Math.min(KC, K);
  scratch.ensure(
    kcMax * Math.min(MC, Math.ceil(M / MR) * MR),
    kcMax * Math.min(NC, Math.ceil(N / NR) * NR),
  );
  const ap = scratch.packedA;
  const bp = scratch.packedB;
  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      packB(b, bRow, bCol, pc, kc, jc, nc, N, bp);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        packA(a, aRow, aCol, ic, mc, pc, kc, M, ap);
        for (let j = jc, qb = 0; j < jc + nc; j += NR, qb += NR * kc) {
          const cols = Math.min(NR, N - j);
          for (let i = ic, qa = 0; i < ic + mc; i += MR, qa += MR * kc) {
            microKernel(
              scratch.edgeTile,
              kc,
              ap,
              qa,
              bp,
              qb,
              out,
              i * N + j,
              N,
              Math.min(MR, M - i),
              cols,
            );
          }
        }
      }
    }
  }
}

/** The reference ops, over scratch memory of their own. */
export const createTypescriptOps = (): ArrayOps => {
  const scratch = new Scratch();
  return {
    gemm(a, b, out, m, k, n) {
      gemmStrided(scratch, a, k, 1, b, n, 1, out, m, k, n);
    },
    gemmNT(a, b, out, m, n, k) {
      // out[i, j] = Σ_p a[i, p]·b[j, p]: B(p, j) = b[j·n + p]
      gemmStrided(scratch, a, n, 1, b, 1, n, out, m, n, k);
    },
    gemmTN(a, b, out, m, k, n) {
      // out[i, j] = Σ_p a[p, i]·b[p, j]: A(i, p) = a[p·k + i]
      gemmStrided(scratch, a, 1, k, b, n, 1, out, k, m, n);
    },
    colSum(a, out, m, n) {
      // Σ over rows in float64 before the one rounding into `out`.
      if (scratch.columnSums.length < n) scratch.columnSums = new Float64Array(n);
      const sums = scratch.columnSums;
      sums.fill(0, 0, n);
      for (let i = 0, s = 0; i < m; i++) {
        for (let j = 0; j < n; j++, s++) sums[j] += a[s];
      }
      for (let j = 0; j < n; j++) out[j] = sums[j];
    },
    axpy(alpha, x, y) {
      for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
    },
    momentumStep(W, g, v, momentum, lr) {
      for (let i = 0; i < W.length; i++) {
        v[i] = momentum * v[i] - lr * g[i];
        W[i] += v[i];
      }
    },
    adamStep(W, g, m, v, beta1, beta2, lrT) {
      for (let i = 0; i < W.length; i++) {
        m[i] += (1 - beta1) * (g[i] - m[i]);
        v[i] += (1 - beta2) * (g[i] * g[i] - v[i]);
        W[i] -= (lrT * m[i]) / (Math.sqrt(v[i]) + 1e-7);
      }
    },
    addRowVector(out, b, m, n) {
      for (let i = 0, o = 0; i < m; i++) {
        for (let j = 0; j < n; j++, o++) out[o] += b[j];
      }
    },
    relu(x, out) {
      for (let i = 0; i < x.length; i++) out[i] = Math.max(x[i], 0);
    },
    reluBackward(out, dout, dx) {
      for (let i = 0; i < dx.length; i++) dx[i] = out[i] > 0 ? dout[i] : 0;
    },
    firstNonFinite,
    gatherRows,
    // The reference has no other core: it gathers at once.
    gatherRowsAhead: gatherRows,
    gatherRowsWait() {},
    computing() {},
    softmaxCrossEntropy(x, t, y, dx, n, classes) {
      if (scratch.exps.length < classes) scratch.exps = new Float64Array(classes);
      return softmaxCrossEntropy(x, t, y, dx, n, classes, scratch.exps);
    },
  };
};

/** ArrayOps.gatherRows. */
function gatherRows(src: FloatArray, rows: Int32Array, out: FloatArray, width: number): void {
  if (width === 0) return;
  const available = Math.floor(src.length / width);
  // All checked before any is copied, so a bad one leaves out as it was.
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (!(row >= 0 && row < available)) {
      throw new RangeError(`rows[${i}] is ${row}, src has ${available} rows of ${width}`);
    }
  }
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    out.set(src.subarray(row * width, (row + 1) * width), i * width);
  }
}
