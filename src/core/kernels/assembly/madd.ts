/**
 * The one operation whose instruction differs between the two builds: with relaxed SIMD, a
 * multiply-add is one fused `relaxed_madd`; with plain SIMD, a multiply then an add.
 */
@inline
export function madd<T>(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return v128.relaxed_madd<T>(a, b, c);
  return v128.add<T>(v128.mul<T>(a, b), c);
}
