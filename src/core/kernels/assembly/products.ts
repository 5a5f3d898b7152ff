/**
 * The matrix products of typescript-ops.ts in WebAssembly SIMD, generic over T = f32 (4 lanes to a
 * 128-bit vector) or f64 (2 lanes); `exports.ts` instantiates them once per dtype.
 *
 * The blocking is GotoBLAS's (see typescript-ops.ts): a KC-deep slab of B is packed into panels two
 * vectors wide, an MC×KC block of A into MR-tall panels, and a 4-row × 2-vector register tile
 * keeps its 8 sums in vector registers while `v128.load_splat` broadcasts each element of A.
 * Operands are byte addresses in the memory the host imports and owns; strides are in elements;
 * `scratch` is `scratchBytes()` of that memory, reserved by the host for the packed panels.
 */
import { madd } from "./madd";

/** Rows of A in a register tile. */
const MR: i32 = 4;
/** Bytes of B in a register tile's row: two vectors. */
const NR_BYTES: i32 = 32;
/** Depth of a packed slab. */
const KC: i32 = 256;
/** Rows of A per packed block. */
const MC: i32 = 64;
const PACKED_A_BYTES: i32 = MC * KC * 8;
/** A packed KC×NC slab of B stays in the L2 cache. */
const PACKED_B_BYTES: i32 = 512 * 1024;
const EDGE_BYTES: i32 = MR * NR_BYTES;

/** Bytes of scratch the host reserves for `scratch`. */
export function scratchBytes(): i32 {
  return PACKED_A_BYTES + PACKED_B_BYTES + EDGE_BYTES;
}

/**
 * The register tiles: C[MR × 2 vectors] = (accumulate ? C : 0) + Σ_p A[p]ᵀ · Bp[p], over kc
 * steps p of the two-vector-wide packed panel `bp`; `ldc` in bytes. There are two, one per layout
 * of A, because a load's constant offset is free while an address add is not: over a packed
 * MR-tall panel, A's MR values of a step are at constant offsets from one pointer (`tilePacked`,
 * 25% faster on Xᵀ·dout than reading the panel like rows); row-major A read in place needs one
 * add per row (`tileRows`).
 */
@inline
function tilePacked<T>(kc: i32, ap: usize, bp: usize, c: usize, ldc: usize, accumulate: bool): void {
  let c00 = v128.splat<T>(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  if (accumulate) {
    c00 = v128.load(c);
    c01 = v128.load(c, 16);
    c10 = v128.load(c + ldc);
    c11 = v128.load(c + ldc, 16);
    c20 = v128.load(c + 2 * ldc);
    c21 = v128.load(c + 2 * ldc, 16);
    c30 = v128.load(c + 3 * ldc);
    c31 = v128.load(c + 3 * ldc, 16);
  }
  const end = bp + <usize>kc * NR_BYTES;
  for (; bp < end; bp += NR_BYTES, ap += MR * sizeof<T>()) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let x = v128.load_splat<T>(ap);
    c00 = madd<T>(x, b0, c00);
    c01 = madd<T>(x, b1, c01);
    x = v128.load_splat<T>(ap, sizeof<T>());
    c10 = madd<T>(x, b0, c10);
    c11 = madd<T>(x, b1, c11);
    x = v128.load_splat<T>(ap, 2 * sizeof<T>());
    c20 = madd<T>(x, b0, c20);
    c21 = madd<T>(x, b1, c21);
    x = v128.load_splat<T>(ap, 3 * sizeof<T>());
    c30 = madd<T>(x, b0, c30);
    c31 = madd<T>(x, b1, c31);
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

/** `tilePacked` over MR rows of row-major A read in place, `lda` bytes apart. */
@inline
function tileRows<T>(
  kc: i32,
  a: usize,
  lda: usize,
  bp: usize,
  c: usize,
  ldc: usize,
  accumulate: bool,
): void {
  let c00 = v128.splat<T>(0);
  let c01 = c00;
  let c10 = c00;
  let c11 = c00;
  let c20 = c00;
  let c21 = c00;
  let c30 = c00;
  let c31 = c00;
  if (accumulate) {
    c00 = v128.load(c);
    c01 = v128.load(c, 16);
    c10 = v128.load(c + ldc);
    c11 = v128.load(c + ldc, 16);
    c20 = v128.load(c + 2 * ldc);
    c21 = v128.load(c + 2 * ldc, 16);
    c30 = v128.load(c + 3 * ldc);
    c31 = v128.load(c + 3 * ldc, 16);
  }
  const a1 = a + lda;
  const a2 = a1 + lda;
  const a3 = a2 + lda;
  const end = <usize>kc * sizeof<T>();
  for (let o: usize = 0; o < end; o += sizeof<T>(), bp += NR_BYTES) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let x = v128.load_splat<T>(a + o);
    c00 = madd<T>(x, b0, c00);
    c01 = madd<T>(x, b1, c01);
    x = v128.load_splat<T>(a1 + o);
    c10 = madd<T>(x, b0, c10);
    c11 = madd<T>(x, b1, c11);
    x = v128.load_splat<T>(a2 + o);
    c20 = madd<T>(x, b0, c20);
    c21 = madd<T>(x, b1, c21);
    x = v128.load_splat<T>(a3 + o);
    c30 = madd<T>(x, b0, c30);
    c31 = madd<T>(x, b1, c31);
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

/**
 * `tilePacked` over the first vector of the panel only: for a last panel of at most one vector's
 * columns (the 2 columns past 48 of n = 50), where the wide tile would compute 6 in vain. Not
 * inlined: it runs once per row block, and a larger `product` slows the wide tiles.
 */
function tilePackedNarrow<T>(
  kc: i32,
  ap: usize,
  bp: usize,
  c: usize,
  ldc: usize,
  accumulate: bool,
): void {
  let c0 = v128.splat<T>(0);
  let c1 = c0;
  let c2 = c0;
  let c3 = c0;
  if (accumulate) {
    c0 = v128.load(c);
    c1 = v128.load(c + ldc);
    c2 = v128.load(c + 2 * ldc);
    c3 = v128.load(c + 3 * ldc);
  }
  const end = bp + <usize>kc * NR_BYTES;
  for (; bp < end; bp += NR_BYTES, ap += MR * sizeof<T>()) {
    const b = v128.load(bp);
    c0 = madd<T>(v128.load_splat<T>(ap), b, c0);
    c1 = madd<T>(v128.load_splat<T>(ap, sizeof<T>()), b, c1);
    c2 = madd<T>(v128.load_splat<T>(ap, 2 * sizeof<T>()), b, c2);
    c3 = madd<T>(v128.load_splat<T>(ap, 3 * sizeof<T>()), b, c3);
  }
  v128.store(c, c0);
  v128.store(c + ldc, c1);
  v128.store(c + 2 * ldc, c2);
  v128.store(c + 3 * ldc, c3);
}

/** `tilePackedNarrow` over row-major A read in place, as `tileRows`. */
function tileRowsNarrow<T>(
  kc: i32,
  a: usize,
  lda: usize,
  bp: usize,
  c: usize,
  ldc: usize,
  accumulate: bool,
): void {
  let c0 = v128.splat<T>(0);
  let c1 = c0;
  let c2 = c0;
  let c3 = c0;
  if (accumulate) {
    c0 = v128.load(c);
    c1 = v128.load(c + ldc);
    c2 = v128.load(c + 2 * ldc);
    c3 = v128.load(c + 3 * ldc);
  }
  const a1 = a + lda;
  const a2 = a1 + lda;
  const a3 = a2 + lda;
  const end = <usize>kc * sizeof<T>();
  for (let o: usize = 0; o < end; o += sizeof<T>(), bp += NR_BYTES) {
    const b = v128.load(bp);
    c0 = madd<T>(v128.load_splat<T>(a + o), b, c0);
    c1 = madd<T>(v128.load_splat<T>(a1 + o), b, c1);
    c2 = madd<T>(v128.load_splat<T>(a2 + o), b, c2);
    c3 = madd<T>(v128.load_splat<T>(a3 + o), b, c3);
  }
  v128.store(c, c0);
  v128.store(c + ldc, c1);
  v128.store(c + 2 * ldc, c2);
  v128.store(c + 3 * ldc, c3);
}

/** Copies the top-left rows×cols of one tile-sized region to another; strides in bytes. */
function copyTile<T>(from: usize, fromRow: usize, to: usize, toRow: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      store<T>(to + <usize>j * sizeof<T>(), load<T>(from + <usize>j * sizeof<T>()));
    }
    from += fromRow;
    to += toRow;
  }
}

/**
 * Packs B(pc..pc+kc, jc..jc+nc) into panels two vectors wide, each kc rows deep, zero-padded
 * past column n (those sums are computed and never written out).
 */
function packB<T>(
  b: usize,
  bRow: i32,
  bCol: i32,
  pc: i32,
  kc: i32,
  jc: i32,
  nc: i32,
  n: i32,
  dst: usize,
): void {
  const s = sizeof<T>();
  const width = NR_BYTES / <i32>s;
  for (let j = jc; j < jc + nc; j += width) {
    if (bCol == 1 && j + width <= n) {
      let from = b + <usize>(pc * bRow + j) * s;
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(from));
        v128.store(dst, v128.load(from, 16), 16);
        from += <usize>bRow * s;
        dst += NR_BYTES;
      }
    } else {
      for (let p = pc; p < pc + kc; p++) {
        for (let c = 0; c < width; c++) {
          const inside = j + c < n;
          store<T>(dst, inside ? load<T>(b + <usize>(p * bRow + (j + c) * bCol) * s) : <T>0);
          dst += s;
        }
      }
    }
  }
}

/** Packs A(ic..ic+mc, pc..pc+kc) into MR-tall panels, each kc deep, zero-padded past row m. */
function packA<T>(
  a: usize,
  aRow: i32,
  aCol: i32,
  ic: i32,
  mc: i32,
  pc: i32,
  kc: i32,
  m: i32,
  dst: usize,
): void {
  const s = sizeof<T>();
  for (let i = ic; i < ic + mc; i += MR) {
    if (aRow == 1 && i + MR <= m) {
      // A transposed: the MR rows of one column are adjacent.
      let from = a + <usize>(i + pc * aCol) * s;
      for (let p = 0; p < kc; p++) {
        v128.store(dst, v128.load(from));
        if (s == 8) v128.store(dst, v128.load(from, 16), 16);
        from += <usize>aCol * s;
        dst += <usize>MR * s;
      }
    } else {
      for (let p = pc; p < pc + kc; p++) {
        for (let r = 0; r < MR; r++) {
          const inside = i + r < m;
          store<T>(dst, inside ? load<T>(a + <usize>((i + r) * aRow + p * aCol) * s) : <T>0);
          dst += s;
        }
      }
    }
  }
}

/**
 * C[m×n] = A·B with A(i, p) = a[i·aRow + p·aCol] (m×k) and B(p, j) = b[p·bRow + j·bCol] (k×n):
 * the strides fold every transpose into the packing.
 */
export function product<T>(
  a: usize,
  aRow: i32,
  aCol: i32,
  b: usize,
  bRow: i32,
  bCol: i32,
  c: usize,
  m: i32,
  k: i32,
  n: i32,
  scratch: usize,
): void {
  const s = sizeof<T>();
  const width = NR_BYTES / <i32>s;
  const NC = PACKED_B_BYTES / (KC * <i32>s);
  const packedA = scratch;
  const packedB = scratch + PACKED_A_BYTES;
  const edge = packedB + PACKED_B_BYTES;
  const ldc = <usize>n * s;
  const inPlace = aCol == 1;
  if (k == 0) memory.fill(c, 0, <usize>m * ldc);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const accumulate = pc > 0;
      packB<T>(b, bRow, bCol, pc, kc, jc, nc, n, packedB);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        // Row-major A is read in place by the tile, but for a last panel of fewer than MR rows.
        if (!inPlace || mc % MR != 0) packA<T>(a, aRow, aCol, ic, mc, pc, kc, m, packedA);
        for (let jr = 0; jr < nc; jr += width) {
          const bp = packedB + <usize>(jr * kc) * s;
          const cols = min(width, nc - jr);
          for (let ir = 0; ir < mc; ir += MR) {
            const ap = packedA + <usize>(ir * kc) * s;
            const rows = min(MR, mc - ir);
            const cp = c + (<usize>(ic + ir) * n + jc + jr) * s;
            // An edge tile is computed whole in `edge`; only its valid part is C's.
            const whole = rows == MR && cols == width;
            const dst = whole ? cp : edge;
            const ld = whole ? ldc : <usize>NR_BYTES;
            if (!whole && accumulate) copyTile<T>(cp, ldc, edge, NR_BYTES, rows, cols);
            const narrow = cols * 2 <= width;
            if (inPlace && rows == MR) {
              const ar = a + (<usize>(ic + ir) * aRow + pc) * s;
              if (narrow) tileRowsNarrow<T>(kc, ar, <usize>aRow * s, bp, dst, ld, accumulate);
              else tileRows<T>(kc, ar, <usize>aRow * s, bp, dst, ld, accumulate);
            } else if (narrow) {
              tilePackedNarrow<T>(kc, ap, bp, dst, ld, accumulate);
            } else {
              tilePacked<T>(kc, ap, bp, dst, ld, accumulate);
            }
            if (!whole) copyTile<T>(edge, NR_BYTES, cp, ldc, rows, cols);
          }
        }
      }
    }
  }
}

/** out[n] = Σ_rows a[m×n], rows added in order. */
export function colSum<T>(a: usize, out: usize, m: i32, n: i32): void {
  const s = sizeof<T>();
  const lanes = 16 / <i32>s;
  const row = <usize>n * s;
  let j = 0;
  for (; j + lanes <= n; j += lanes) {
    let sum = v128.splat<T>(0);
    let from = a + <usize>j * s;
    for (let i = 0; i < m; i++, from += row) sum = v128.add<T>(sum, v128.load(from));
    v128.store(out + <usize>j * s, sum);
  }
  for (; j < n; j++) {
    let sum = <T>0;
    let from = a + <usize>j * s;
    for (let i = 0; i < m; i++, from += row) sum += load<T>(from);
    store<T>(out + <usize>j * s, sum);
  }
}
