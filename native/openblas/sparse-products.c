/*
 * See sparse-products.h. Each row of a is first listed as the indices of its non-zero entries (a
 * NaN counts as non-zero, so it still spreads), then each listed entry adds its multiple of a row
 * of b into c, in index order: each element of c is the sum of the non-zero terms, one after the
 * other in order of the inner index, each product and each sum rounded to float. No contraction
 * (FMA), so the bits are those of that plain loop.
 */
#include "sparse-products.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Rows looked at to tell a sparse operand, and the share of them that may be non-zero. */
#define PROBE_ROWS 8
#define MOST_NONZERO_DIVISOR 4

/* Columns of c one pass keeps in registers: eight vectors of eight. */
#define PASS_COLUMNS 64

#define AVX2 __attribute__((target("avx2")))

/* For each 8-bit mask, the positions of its set bits, in order. */
static uint8_t positions[256][8];

__attribute__((constructor)) static void fill_positions(void) {
  for (int mask = 0; mask < 256; mask++) {
    int n = 0;
    for (int bit = 0; bit < 8; bit++)
      if (mask & (1 << bit)) positions[mask][n++] = (uint8_t)bit;
  }
}

/*
 * The indices of row's non-zero entries, in order, into list (k + 8 long: eight indices are
 * stored at a time): their count.
 */
AVX2 static size_t list_nonzeros(const float *row, size_t k, int32_t *list) {
  const __m256 zero = _mm256_setzero_ps();
  size_t count = 0, p = 0;
  for (; p + 8 <= k; p += 8) {
    __m256 nonzero = _mm256_cmp_ps(_mm256_loadu_ps(row + p), zero, _CMP_NEQ_UQ);
    unsigned mask = (unsigned)_mm256_movemask_ps(nonzero);
    __m128i bits = _mm_loadl_epi64((const __m128i *)positions[mask]);
    __m256i at = _mm256_add_epi32(_mm256_cvtepu8_epi32(bits), _mm256_set1_epi32((int)p));
    _mm256_storeu_si256((__m256i *)(list + count), at);
    count += (size_t)__builtin_popcount(mask);
  }
  for (; p < k; p++) {
    list[count] = (int32_t)p;
    count += row[p] != 0; /* true for NaN too */
  }
  return count;
}

/* Lanes below `width` (0..8) set. */
AVX2 static __m256i lanes_below(size_t width) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)width), lane);
}

/*
 * out[0..width) = Σ_q row[list[q]]·b[list[q]·ldb + 0..width), width ≤ 8·BLOCKS, the sums held in
 * BLOCKS registers; the last block's columns past width are loaded as zeros and not stored.
 */
#define NN_PASS(BLOCKS)                                                                      \
  AVX2 static void nn_pass_##BLOCKS(const float *row, const int32_t *list, size_t count,     \
                                    const float *b, size_t ldb, float *out, size_t width) {  \
    const __m256i last = lanes_below(width - 8 * (BLOCKS - 1));                              \
    __m256 sum[BLOCKS];                                                                      \
    for (int t = 0; t < BLOCKS; t++) sum[t] = _mm256_setzero_ps();                           \
    for (size_t q = 0; q < count; q++) {                                                     \
      const __m256 v = _mm256_broadcast_ss(row + list[q]);                                   \
      const float *at = b + (size_t)list[q] * ldb;                                           \
      for (int t = 0; t < BLOCKS - 1; t++)                                                   \
        sum[t] = _mm256_add_ps(sum[t], _mm256_mul_ps(v, _mm256_loadu_ps(at + 8 * t)));       \
      const __m256 tail = _mm256_maskload_ps(at + 8 * (BLOCKS - 1), last);                   \
      sum[BLOCKS - 1] = _mm256_add_ps(sum[BLOCKS - 1], _mm256_mul_ps(v, tail));              \
    }                                                                                        \
    for (int t = 0; t < BLOCKS - 1; t++) _mm256_storeu_ps(out + 8 * t, sum[t]);              \
    _mm256_maskstore_ps(out + 8 * (BLOCKS - 1), last, sum[BLOCKS - 1]);                      \
  }
NN_PASS(1)
NN_PASS(2)
NN_PASS(3)
NN_PASS(4)
NN_PASS(5)
NN_PASS(6)
NN_PASS(7)
NN_PASS(8)

typedef void (*nn_pass_fn)(const float *, const int32_t *, size_t, const float *, size_t, float *,
                           size_t);
static const nn_pass_fn nn_passes[8] = {nn_pass_1, nn_pass_2, nn_pass_3, nn_pass_4,
                                        nn_pass_5, nn_pass_6, nn_pass_7, nn_pass_8};

/* Whether a's first rows are at most a quarter non-zero; list is scratch of k + 8 indices. */
AVX2 static bool mostly_zeros(const float *a, size_t m, size_t k, int32_t *list) {
  size_t rows = m < PROBE_ROWS ? m : PROBE_ROWS, nonzero = 0;
  for (size_t i = 0; i < rows; i++) nonzero += list_nonzeros(a + i * k, k, list);
  return nonzero * MOST_NONZERO_DIVISOR <= rows * k;
}

bool sparse_nn(const float *a, const float *b, float *c, size_t m, size_t k, size_t n) {
  if (!__builtin_cpu_supports("avx2") || m == 0 || k == 0) return false;
  int32_t *list = malloc((k + 8) * sizeof *list);
  if (!list) return false;
  const bool sparse = mostly_zeros(a, m, k, list);
  for (size_t i = 0; sparse && i < m; i++) {
    const float *row = a + i * k;
    size_t count = list_nonzeros(row, k, list);
    for (size_t j0 = 0; j0 < n; j0 += PASS_COLUMNS) {
      size_t width = n - j0 < PASS_COLUMNS ? n - j0 : PASS_COLUMNS;
      nn_passes[(width + 7) / 8 - 1](row, list, count, b + j0, n, c + i * n + j0, width);
    }
  }
  free(list);
  return sparse;
}

#else
bool sparse_nn(const float *a, const float *b, float *c, size_t m, size_t k, size_t n) {
  (void)a, (void)b, (void)c, (void)m, (void)k, (void)n;
  return false;
}
#endif
