/*
 * The service's ArrayOps in native code: the three products of Affine through OpenBLAS's
 * sgemm/dgemm, and the elementwise loops of the hot path in C; and base64 between byte arrays
 * (base64.c), which needs no OpenBLAS, for the tensors that travel as text. OpenBLAS is opened at run time
 * (dlopen), not linked, so the addon builds without its headers or library and a machine without
 * it gets a reason to log instead of a failed require().
 *
 * Every function reads and writes the typed arrays it is given, wherever their memory lies (the
 * JS heap, a SharedArrayBuffer, WebAssembly memory): no copy, and no allocation per call but the
 * row's index list of the zero-skipping product (sparse-products.c).
 *
 * The elementwise loops compute exactly what the TypeScript reference does, operation for
 * operation in double precision with one rounding into the dtype per stored value, so their bits
 * equal the reference's. That is why this file is compiled without FMA contraction.
 */
#define _GNU_SOURCE /* sched_getcpu, pthread_setaffinity_np */
#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strcasecmp */

#include "base64.h"
#include "sparse-products.h"

/* The CBLAS prototypes, declared here so that no BLAS headers are needed to build. */
enum { CblasRowMajor = 101, CblasNoTrans = 111, CblasTrans = 112 };
typedef void (*sgemm_fn)(int order, int transA, int transB, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc);
typedef void (*dgemm_fn)(int order, int transA, int transB, int m, int n, int k, double alpha,
                         const double *a, int lda, const double *b, int ldb, double beta,
                         double *c, int ldc);
typedef void (*set_threads_fn)(int threads);
typedef char *(*get_config_fn)(void);

/* One library per process, shared by every thread's instance of the addon. */
static pthread_mutex_t library_lock = PTHREAD_MUTEX_INITIALIZER;
static void *library;
static char library_config[256];
static sgemm_fn sgemm;
static dgemm_fn dgemm;

/* ---- arguments ---------------------------------------------------------------------------- */

typedef struct {
  napi_typedarray_type type;
  size_t length;
  void *data;
} Array;

static napi_value fail(napi_env env, const char *fn, const char *message) {
  char text[200];
  snprintf(text, sizeof text, "%s: %s", fn, message);
  napi_throw_type_error(env, NULL, text);
  return NULL;
}

/* Reads the `count` arguments a function takes; false (an exception pending) on too few. */
static bool arguments(napi_env env, napi_callback_info info, const char *fn, size_t count,
                      napi_value *argv) {
  size_t argc = count;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < count) {
    char text[64];
    snprintf(text, sizeof text, "takes %zu arguments", count);
    fail(env, fn, text);
    return false;
  }
  return true;
}

/* A Float32Array or Float64Array of the same type as `like` (when given). */
static bool array(napi_env env, napi_value value, const char *fn, const char *name,
                  const Array *like, Array *out) {
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &out->type, &out->length, &out->data, &buffer,
                               &offset) != napi_ok ||
      (out->type != napi_float32_array && out->type != napi_float64_array)) {
    char text[96];
    snprintf(text, sizeof text, "%s must be a Float32Array or Float64Array", name);
    fail(env, fn, text);
    return false;
  }
  if (like && like->type != out->type) {
    char text[96];
    snprintf(text, sizeof text, "%s must be of the same dtype as the other arrays", name);
    fail(env, fn, text);
    return false;
  }
  return true;
}

/* A typed array of `type` (`what` names that type in the error: "an Int32Array"). */
static bool typed_array(napi_env env, napi_value value, const char *fn, const char *name,
                        napi_typedarray_type type, const char *what, void **data,
                        size_t *length) {
  napi_typedarray_type actual;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &actual, length, data, &buffer, &offset) != napi_ok ||
      actual != type) {
    char text[96];
    snprintf(text, sizeof text, "%s must be %s", name, what);
    fail(env, fn, text);
    return false;
  }
  return true;
}

/* At least `needed` elements. */
static bool holds(napi_env env, const char *fn, const char *name, const Array *a, size_t needed) {
  if (a->length >= needed) return true;
  char text[160];
  snprintf(text, sizeof text, "%s has %zu elements, the operation needs %zu", name, a->length,
           needed);
  fail(env, fn, text);
  return false;
}

/* A dimension: an integer in [0, 2³¹). */
static bool dim(napi_env env, napi_value value, const char *fn, const char *name, int *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0 && d <= INT_MAX) ||
      d != (double)(int)d) {
    char text[96];
    snprintf(text, sizeof text, "%s must be a non-negative integer", name);
    fail(env, fn, text);
    return false;
  }
  *out = (int)d;
  return true;
}

static bool number(napi_env env, napi_value value, const char *fn, const char *name,
                   double *out) {
  if (napi_get_value_double(env, value, out) == napi_ok) return true;
  char text[96];
  snprintf(text, sizeof text, "%s must be a number", name);
  fail(env, fn, text);
  return false;
}

/* ---- products ------------------------------------------------------------------------------ */

/*
 * OpenBLAS's AVX-512 builds (the SkylakeX kernels, which Cooperlake and SapphireRapids use too)
 * run a dgemm of at most 100³ multiply-adds through "small matrix" kernels that read both
 * operands in place; a larger one packs them first, and its 16×2 kernel is slow on narrow
 * outputs. For Affine's products on Zen 5 with OpenBLAS 0.3.21, x·W [100×784]·[784×50] took 115 µs
 * in one call and 79 in blocks of 25 rows, xᵀ·dout [784×100]·[100×50] 118 and 70 in blocks of 196.
 * So a double product op(A)·B runs in blocks of output rows that fit those kernels, when a block
 * keeps at least DGEMM_MIN_BLOCK_ROWS rows (fewer lost: 9 rows of a 128-wide output, or a
 * [1000×1000] output). Not with op(B) = Bᵀ (dx = dout·Wᵀ, 1.25× slower in blocks) nor for floats,
 * whose 16×4 kernel gained 0–17% and lost up to 10% on other shapes. Elsewhere (Haswell's
 * kernels, which this environment's OPENBLAS_CORETYPE picks) blocks only repack B, so
 * dgemm_block_limit is 0 there. A product's bits depend on its blocks: the rule is fixed per
 * library and core, so one machine computes the same bits every time.
 */
#define DGEMM_SMALL_LIMIT 1e6
#define DGEMM_MIN_BLOCK_ROWS 12
static const char *const SMALL_KERNEL_CORES[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
/* Most multiply-adds per dgemm call, or 0 for one call per product; set by open(). */
static _Atomic double dgemm_block_limit;

/* Rows of C per dgemm call of C[M×N] = op(A)·B with inner size K. */
static int dgemm_block_rows(int M, int N, int K) {
  const double limit = dgemm_block_limit, row = (double)N * K;
  if (limit == 0 || M * row <= limit) return M;
  const double rows = floor(limit / row);
  return rows >= DGEMM_MIN_BLOCK_ROWS ? (int)rows : M;
}

/*
 * A product of at least SHARED_PRODUCT_MIN multiply-adds (0.15 ms in float32 on one Zen 5 core)
 * and 32 rows is cut in two blocks of output rows and shared with the helper (share): a 1000³
 * product in about 5 instead of 9–10 ms while the core that the HTTP thread and the client use
 * is idle.
 */
#define SHARED_PRODUCT_MIN (1 << 25)

/*
 * Work cut in blocks, which this thread and its helper (see gatherRowsAhead) claim in turn when
 * the helper has a core of its own (share); `block` does block i.
 */
typedef struct Shared Shared;
struct Shared {
  void (*block)(Shared *job, int i);
  int blocks;
  atomic_int next; /* the first block nobody has claimed */
};

/* Claims and does blocks until none is left, and says how many; this thread and its helper
 * both run it. */
static int claim_blocks(Shared *job) {
  for (int done = 0;; done++) {
    const int i = atomic_fetch_add_explicit(&job->next, 1, memory_order_relaxed);
    if (i >= job->blocks) return done;
    job->block(job, i);
  }
}

/*
 * Does every block of the job, on the helper's core as well when `worth` it and the helper is to
 * be had. A helper that the scheduler holds back costs a block at most: this thread claims
 * whatever is left. Blocks are cut by size alone, never by who does them, so the bits are the
 * same either way.
 */
static void share(napi_env env, Shared *job, bool worth);

/* C[M×N] = op(A)·op(B) in blocks of `rows` rows of C (the last one shorter). */
typedef struct {
  Shared shared;
  bool f32;
  int transA, transB, M, N, K, lda, ldb;
  const void *a, *b;
  void *c;
  int rows;
} Product;

static void product_block(Shared *job, int i) {
  const Product *p = (const Product *)job;
  const int m0 = i * p->rows, rows = p->M - m0 < p->rows ? p->M - m0 : p->rows;
  const size_t size = p->f32 ? sizeof(float) : sizeof(double);
  /* op(A)'s rows m0…: rows of A, or columns of the A that is transposed. */
  const char *A =
      (const char *)p->a + (p->transA == CblasNoTrans ? (size_t)m0 * p->lda : (size_t)m0) * size;
  void *C = (char *)p->c + (size_t)m0 * p->N * size;
  if (p->f32) {
    sgemm(CblasRowMajor, p->transA, p->transB, rows, p->N, p->K, 1.0f, (const float *)A, p->lda,
          p->b, p->ldb, 0.0f, C, p->N);
  } else {
    dgemm(CblasRowMajor, p->transA, p->transB, rows, p->N, p->K, 1.0, (const double *)A, p->lda,
          p->b, p->ldb, 0.0, C, p->N);
  }
}

/*
 * C[M×N] = op(A)·op(B), row-major, op(A) being M×K and op(B) K×N. An empty product is all zeros
 * (BLAS would reject the zero leading dimensions it implies).
 */
static void product(napi_env env, const Array *a, const Array *b, const Array *c, int transA,
                    int transB, int M, int N, int K, int lda, int ldb) {
  if (M == 0 || N == 0) return;
  const bool f32 = c->type == napi_float32_array;
  if (K == 0) {
    memset(c->data, 0, (size_t)M * N * (f32 ? sizeof(float) : sizeof(double)));
    return;
  }
  const bool large = (double)M * N * K >= SHARED_PRODUCT_MIN;
  int rows = f32 || transB != CblasNoTrans ? M : dgemm_block_rows(M, N, K);
  if (rows == M && large && M >= 32) {
    rows = ((M + 1) / 2 + 15) / 16 * 16; /* halves, cut at a whole 16-row tile */
  }
  Product p = {.shared = {.block = product_block, .blocks = (M + rows - 1) / rows},
               .f32 = f32,
               .transA = transA,
               .transB = transB,
               .M = M,
               .N = N,
               .K = K,
               .lda = lda,
               .ldb = ldb,
               .a = a->data,
               .b = b->data,
               .c = c->data,
               .rows = rows};
  atomic_init(&p.shared.next, 0);
  share(env, &p.shared, large);
}

/* The three arrays and three dimensions every product takes, checked. */
static bool product_arguments(napi_env env, napi_callback_info info, const char *fn, Array *a,
                              Array *b, Array *c, int *d1, int *d2, int *d3) {
  napi_value argv[6];
  if (!sgemm) {
    napi_throw_error(env, NULL, "the OpenBLAS kernels are used before open() succeeded");
    return false;
  }
  return arguments(env, info, fn, 6, argv) && array(env, argv[0], fn, "a", NULL, a) &&
         array(env, argv[1], fn, "b", a, b) && array(env, argv[2], fn, "out", a, c) &&
         dim(env, argv[3], fn, "the first dimension", d1) &&
         dim(env, argv[4], fn, "the second dimension", d2) &&
         dim(env, argv[5], fn, "the third dimension", d3);
}

/* gemm(a, b, out, m, k, n): out[m×n] = a[m×k] · b[k×n] */
static napi_value gemm(napi_env env, napi_callback_info info) {
  Array a, b, c;
  int m, k, n;
  if (!product_arguments(env, info, "gemm", &a, &b, &c, &m, &k, &n) ||
      !holds(env, "gemm", "a", &a, (size_t)m * k) || !holds(env, "gemm", "b", &b, (size_t)k * n) ||
      !holds(env, "gemm", "out", &c, (size_t)m * n))
    return NULL;
  /* A float input that is mostly zeros (MNIST's images are four-fifths background) skips them. */
  if (c.type == napi_float32_array && sparse_nn(a.data, b.data, c.data, m, k, n)) return NULL;
  product(env, &a, &b, &c, CblasNoTrans, CblasNoTrans, m, n, k, k, n);
  return NULL;
}

/* gemmNT(a, b, out, m, n, k): out[m×k] = a[m×n] · bᵀ, b being [k×n] */
static napi_value gemm_nt(napi_env env, napi_callback_info info) {
  Array a, b, c;
  int m, n, k;
  if (!product_arguments(env, info, "gemmNT", &a, &b, &c, &m, &n, &k) ||
      !holds(env, "gemmNT", "a", &a, (size_t)m * n) ||
      !holds(env, "gemmNT", "b", &b, (size_t)k * n) ||
      !holds(env, "gemmNT", "out", &c, (size_t)m * k))
    return NULL;
  product(env, &a, &b, &c, CblasNoTrans, CblasTrans, m, k, n, n, n);
  return NULL;
}

/* gemmTN(a, b, out, m, k, n): out[k×n] = aᵀ · b, a being [m×k] and b [m×n] */
static napi_value gemm_tn(napi_env env, napi_callback_info info) {
  Array a, b, c;
  int m, k, n;
  if (!product_arguments(env, info, "gemmTN", &a, &b, &c, &m, &k, &n) ||
      !holds(env, "gemmTN", "a", &a, (size_t)m * k) ||
      !holds(env, "gemmTN", "b", &b, (size_t)m * n) ||
      !holds(env, "gemmTN", "out", &c, (size_t)k * n))
    return NULL;
  product(env, &a, &b, &c, CblasTrans, CblasNoTrans, k, n, m, k, n);
  return NULL;
}

/* ---- elementwise ------------------------------------------------------------------------------
 * Each loop is written once for T = float and T = double; D is double either way, so every
 * intermediate is the double the TypeScript reference computes.
 */
typedef double D;

/*
 * Each loop is also compiled for AVX2 and for AVX-512, picked at load by the CPU (an ifunc), as
 * OpenBLAS picks its kernels: the baseline x86-64 build has 128-bit SSE2 only, and a loop of
 * float→double conversions there runs at a third of the speed; AVX-512 takes another 5% off a
 * 784-50-10 step on Zen 5. Contraction stays off and no sum is reordered, so the bits are the
 * same in every version.
 */
#if defined(__x86_64__) && defined(__GNUC__)
#define VECTORISED __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VECTORISED
#endif

/* Σ over rows per column, in double, rounded once into out: columns in blocks that stay in L1. */
#define COLUMN_BLOCK 512
#define COL_SUM(T)                                                                          \
  VECTORISED static void col_sum_##T(const T *a, T *out, size_t m, size_t n) {                         \
    D sums[COLUMN_BLOCK];                                                                   \
    for (size_t j0 = 0; j0 < n; j0 += COLUMN_BLOCK) {                                       \
      size_t width = n - j0 < COLUMN_BLOCK ? n - j0 : COLUMN_BLOCK;                         \
      for (size_t j = 0; j < width; j++) sums[j] = 0;                                       \
      for (size_t i = 0; i < m; i++) {                                                      \
        const T *row = a + i * n + j0;                                                      \
        for (size_t j = 0; j < width; j++) sums[j] += (D)row[j];                            \
      }                                                                                     \
      for (size_t j = 0; j < width; j++) out[j0 + j] = (T)sums[j];                          \
    }                                                                                       \
  }
COL_SUM(float)
COL_SUM(double)

#define ELEMENTWISE(T)                                                                      \
  VECTORISED static void axpy_##T(D alpha, const T *restrict x, T *restrict y, size_t n) {             \
    for (size_t i = 0; i < n; i++) y[i] = (T)((D)y[i] + alpha * (D)x[i]);                   \
  }                                                                                         \
  VECTORISED static void momentum_##T(T *restrict W, const T *restrict g, T *restrict v, D mu, D lr,   \
                           size_t n) {                                                      \
    for (size_t i = 0; i < n; i++) {                                                        \
      T vi = (T)(mu * (D)v[i] - lr * (D)g[i]);                                              \
      v[i] = vi;                                                                            \
      W[i] = (T)((D)W[i] + (D)vi);                                                          \
    }                                                                                       \
  }                                                                                         \
  VECTORISED static void adam_##T(T *restrict W, const T *restrict g, T *restrict m, T *restrict v,    \
                       D beta1, D beta2, D lrT, size_t n) {                                 \
    const D c1 = 1 - beta1, c2 = 1 - beta2;                                                 \
    for (size_t i = 0; i < n; i++) {                                                        \
      const D gi = (D)g[i];                                                                 \
      const T mi = (T)((D)m[i] + c1 * (gi - (D)m[i]));                                      \
      const T vi = (T)((D)v[i] + c2 * (gi * gi - (D)v[i]));                                 \
      m[i] = mi;                                                                            \
      v[i] = vi;                                                                            \
      W[i] = (T)((D)W[i] - (lrT * (D)mi) / (sqrt((D)vi) + 1e-7));                           \
    }                                                                                       \
  }                                                                                         \
  VECTORISED static void add_row_##T(T *restrict out, const T *restrict b, size_t m, size_t n) {       \
    for (size_t i = 0; i < m; i++) {                                                        \
      T *row = out + i * n;                                                                 \
      for (size_t j = 0; j < n; j++) row[j] = (T)((D)row[j] + (D)b[j]);                     \
    }                                                                                       \
  }                                                                                         \
  /* Math.max(x, 0): NaN stays NaN, -0 becomes +0. */                                      \
  VECTORISED static void relu_##T(const T *x, T *out, size_t n) {                                      \
    for (size_t i = 0; i < n; i++) {                                                        \
      const T xi = x[i];                                                                    \
      out[i] = xi > 0 || xi != xi ? xi : (T)0;                                              \
    }                                                                                       \
  }                                                                                         \
  VECTORISED static void relu_backward_##T(const T *out, const T *dout, T *dx, size_t n) {             \
    /* Both loads unconditional: a select, which vectorises, not a branch per element. */   \
    for (size_t i = 0; i < n; i++) {                                                        \
      const T d = dout[i];                                                                  \
      dx[i] = out[i] > 0 ? d : (T)0;                                                        \
    }                                                                                       \
  }
ELEMENTWISE(float)
ELEMENTWISE(double)

/*
 * The first element whose exponent bits are all ones (NaN or ±∞), or -1. Blocks are screened by
 * OR-ing an equality test of every element's exponent, which vectorises for both widths (AVX2 has
 * no unsigned 64-bit max: a max screen ran scalar for doubles, 0.4 ns an element); only a block
 * that holds one is searched element by element.
 */
#define SCREEN_BLOCK 1024
#define FIRST_NON_FINITE(NAME, U, EXP)                                                      \
  VECTORISED static int64_t NAME(const U *bits, size_t n) {                                \
    for (size_t i0 = 0; i0 < n; i0 += SCREEN_BLOCK) {                                       \
      size_t end = n - i0 < SCREEN_BLOCK ? n : i0 + SCREEN_BLOCK;                           \
      U found = 0;                                                                          \
      for (size_t i = i0; i < end; i++) found |= (U)((bits[i] & (EXP)) == (EXP));           \
      if (!found) continue;                                                                 \
      for (size_t i = i0; i < end; i++)                                                     \
        if ((bits[i] & (EXP)) == (EXP)) return (int64_t)i;                                  \
    }                                                                                       \
    return -1;                                                                              \
  }
FIRST_NON_FINITE(first_non_finite_f32, uint32_t, 0x7f800000u)
FIRST_NON_FINITE(first_non_finite_f64, uint64_t, 0x7ff0000000000000ull)

#define F32(a) ((a).type == napi_float32_array)

/* colSum(a, out, m, n) */
static napi_value col_sum(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Array a, out;
  int m, n;
  if (!arguments(env, info, "colSum", 4, argv) || !array(env, argv[0], "colSum", "a", NULL, &a) ||
      !array(env, argv[1], "colSum", "out", &a, &out) || !dim(env, argv[2], "colSum", "m", &m) ||
      !dim(env, argv[3], "colSum", "n", &n) ||
      !holds(env, "colSum", "a", &a, (size_t)m * n) || !holds(env, "colSum", "out", &out, n))
    return NULL;
  if (F32(a)) col_sum_float(a.data, out.data, m, n);
  else col_sum_double(a.data, out.data, m, n);
  return NULL;
}

/* axpy(alpha, x, y): y += alpha·x over y's length */
static napi_value axpy(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  double alpha;
  Array x, y;
  if (!arguments(env, info, "axpy", 3, argv) || !number(env, argv[0], "axpy", "alpha", &alpha) ||
      !array(env, argv[1], "axpy", "x", NULL, &x) || !array(env, argv[2], "axpy", "y", &x, &y) ||
      !holds(env, "axpy", "x", &x, y.length))
    return NULL;
  if (F32(x)) axpy_float(alpha, x.data, y.data, y.length);
  else axpy_double(alpha, x.data, y.data, y.length);
  return NULL;
}

/* momentumStep(W, g, v, momentum, lr) */
static napi_value momentum_step(napi_env env, napi_callback_info info) {
  const char *fn = "momentumStep";
  napi_value argv[5];
  Array W, g, v;
  double mu, lr;
  if (!arguments(env, info, fn, 5, argv) || !array(env, argv[0], fn, "W", NULL, &W) ||
      !array(env, argv[1], fn, "g", &W, &g) || !array(env, argv[2], fn, "v", &W, &v) ||
      !number(env, argv[3], fn, "momentum", &mu) || !number(env, argv[4], fn, "lr", &lr) ||
      !holds(env, fn, "g", &g, W.length) || !holds(env, fn, "v", &v, W.length))
    return NULL;
  if (F32(W)) momentum_float(W.data, g.data, v.data, mu, lr, W.length);
  else momentum_double(W.data, g.data, v.data, mu, lr, W.length);
  return NULL;
}

/* adamStep(W, g, m, v, beta1, beta2, lrT) */
static napi_value adam_step(napi_env env, napi_callback_info info) {
  const char *fn = "adamStep";
  napi_value argv[7];
  Array W, g, m, v;
  double beta1, beta2, lrT;
  if (!arguments(env, info, fn, 7, argv) || !array(env, argv[0], fn, "W", NULL, &W) ||
      !array(env, argv[1], fn, "g", &W, &g) || !array(env, argv[2], fn, "m", &W, &m) ||
      !array(env, argv[3], fn, "v", &W, &v) || !number(env, argv[4], fn, "beta1", &beta1) ||
      !number(env, argv[5], fn, "beta2", &beta2) || !number(env, argv[6], fn, "lrT", &lrT) ||
      !holds(env, fn, "g", &g, W.length) || !holds(env, fn, "m", &m, W.length) ||
      !holds(env, fn, "v", &v, W.length))
    return NULL;
  if (F32(W)) adam_float(W.data, g.data, m.data, v.data, beta1, beta2, lrT, W.length);
  else adam_double(W.data, g.data, m.data, v.data, beta1, beta2, lrT, W.length);
  return NULL;
}

/* addRowVector(out, b, m, n): out[m×n] += b[n] on every row */
static napi_value add_row_vector(napi_env env, napi_callback_info info) {
  const char *fn = "addRowVector";
  napi_value argv[4];
  Array out, b;
  int m, n;
  if (!arguments(env, info, fn, 4, argv) || !array(env, argv[0], fn, "out", NULL, &out) ||
      !array(env, argv[1], fn, "b", &out, &b) || !dim(env, argv[2], fn, "m", &m) ||
      !dim(env, argv[3], fn, "n", &n) || !holds(env, fn, "out", &out, (size_t)m * n) ||
      !holds(env, fn, "b", &b, n))
    return NULL;
  if (F32(out)) add_row_float(out.data, b.data, m, n);
  else add_row_double(out.data, b.data, m, n);
  return NULL;
}

/* relu(x, out) over x's length */
static napi_value relu(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Array x, out;
  if (!arguments(env, info, "relu", 2, argv) || !array(env, argv[0], "relu", "x", NULL, &x) ||
      !array(env, argv[1], "relu", "out", &x, &out) || !holds(env, "relu", "out", &out, x.length))
    return NULL;
  if (F32(x)) relu_float(x.data, out.data, x.length);
  else relu_double(x.data, out.data, x.length);
  return NULL;
}

/* reluBackward(out, dout, dx) over dx's length */
static napi_value relu_backward(napi_env env, napi_callback_info info) {
  const char *fn = "reluBackward";
  napi_value argv[3];
  Array out, dout, dx;
  if (!arguments(env, info, fn, 3, argv) || !array(env, argv[0], fn, "out", NULL, &out) ||
      !array(env, argv[1], fn, "dout", &out, &dout) || !array(env, argv[2], fn, "dx", &out, &dx) ||
      !holds(env, fn, "out", &out, dx.length) || !holds(env, fn, "dout", &dout, dx.length))
    return NULL;
  if (F32(out)) relu_backward_float(out.data, dout.data, dx.data, dx.length);
  else relu_backward_double(out.data, dout.data, dx.data, dx.length);
  return NULL;
}

/* firstNonFinite(a): the index of the first NaN or ±∞, or -1 */
static napi_value first_non_finite(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  Array a;
  if (!arguments(env, info, "firstNonFinite", 1, argv) ||
      !array(env, argv[0], "firstNonFinite", "a", NULL, &a))
    return NULL;
  int64_t at = F32(a) ? first_non_finite_f32(a.data, a.length)
                      : first_non_finite_f64(a.data, a.length);
  napi_create_int64(env, at, &result);
  return result;
}

/* ---- minibatches and the loss ---------------------------------------------------------------- */

/* The arguments of gatherRows and gatherRowsAhead, checked: false (an exception pending) if bad. */
typedef struct {
  Array src, out;
  const int32_t *rows;
  size_t count, width;
} Gather;

static bool gather_arguments(napi_env env, napi_callback_info info, const char *fn,
                             napi_value *argv, Gather *g) {
  int width;
  if (!arguments(env, info, fn, 4, argv) || !array(env, argv[0], fn, "src", NULL, &g->src) ||
      !typed_array(env, argv[1], fn, "rows", napi_int32_array, "an Int32Array",
                   (void **)&g->rows, &g->count) ||
      !array(env, argv[2], fn, "out", NULL, &g->out) || !dim(env, argv[3], fn, "width", &width) ||
      !holds(env, fn, "out", &g->out, g->count * (size_t)width))
    return false;
  g->width = (size_t)width;
  if (width == 0) return true;
  const size_t available = g->src.length / g->width;
  for (size_t i = 0; i < g->count; i++) {
    if (g->rows[i] < 0 || (size_t)g->rows[i] >= available) {
      char text[160];
      snprintf(text, sizeof text, "rows[%zu] is %d, src has %zu rows of %d", i, g->rows[i],
               available, width);
      napi_throw_range_error(env, NULL, text);
      return false;
    }
  }
  return true;
}

/* Row `rows[i]` of src into row i of out, cast into out's dtype as TypedArray.set casts. */
static void copy_row(const Gather *g, size_t i) {
  const size_t w = g->width, from = (size_t)g->rows[i] * w, to = i * w;
  if (F32(g->src)) {
    const float *s = (const float *)g->src.data + from;
    if (F32(g->out)) memcpy((float *)g->out.data + to, s, w * sizeof(float));
    else for (size_t j = 0; j < w; j++) ((double *)g->out.data)[to + j] = (double)s[j];
  } else {
    const double *s = (const double *)g->src.data + from;
    if (F32(g->out)) for (size_t j = 0; j < w; j++) ((float *)g->out.data)[to + j] = (float)s[j];
    else memcpy((double *)g->out.data + to, s, w * sizeof(double));
  }
}

/*
 * Rows picked at random from a large dataset are bound by memory latency: the hardware's
 * prefetcher stops at each row's end, so the row GATHER_AHEAD ahead of the one copied is asked
 * for, keeping several rows' misses in flight at once.
 */
#define GATHER_AHEAD 4
/* Always inlined: as a function of its own GCC finds it free of effects and drops every call. */
static inline __attribute__((always_inline)) void prefetch_source(const Gather *g, size_t i) {
  if (i >= g->count) return;
  const size_t bytes = g->width * (F32(g->src) ? sizeof(float) : sizeof(double));
  const char *row = (const char *)g->src.data + (size_t)g->rows[i] * bytes;
  for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(row + at, 0, 0);
}

static void gather(const Gather *g) {
  for (size_t i = 0; i < GATHER_AHEAD; i++) prefetch_source(g, i);
  for (size_t i = 0; i < g->count; i++) {
    prefetch_source(g, i + GATHER_AHEAD);
    copy_row(g, i);
  }
}

/* gatherRows(src, rows, out, width): out[i×width…] = src[rows[i]×width…] for every i */
static napi_value gather_rows(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Gather g;
  if (gather_arguments(env, info, "gatherRows", argv, &g)) gather(&g);
  return NULL;
}

/*
 * A minibatch gathered ahead, on another core: gatherRowsAhead(src, rows, out, width) hands the
 * copy to a helper thread of this JS thread and returns; gatherRowsWait() returns once `out` holds
 * every row. Rows drawn at random from a large dataset are bound by memory latency, and this way
 * that latency is paid on the core the training thread does not use, while it computes a step.
 * The waiting thread copies the rows the helper has not claimed yet itself (rows are claimed one
 * at a time), so a helper the scheduler holds back costs no more than a plain gatherRows. The
 * helper is kept off the core the JS thread runs on: Linux would often wake it there, and it
 * would then run instead of the JS thread, not beside it. With one core, rows are copied at once.
 * The typed arrays are referenced until the wait, so the JS heap cannot free them meanwhile.
 */
typedef struct {
  pthread_mutex_t lock;
  pthread_cond_t wake; /* the helper: a gather posted, or quit */
  pthread_cond_t idle; /* the waiter: the helper is done with its rows */
  pthread_t thread;
  bool started, quit;
  bool posted; /* a gather the helper has not taken yet */
  bool busy;   /* the helper is copying rows */
  bool active; /* a gather not waited for yet */
  int away_from; /* the core the helper is kept off: the JS thread's when it last posted */
  Shared *shared; /* the job posted, while share() runs; else null: the gather */
  bool computing; /* this JS thread works on a task (computing) */
  double helped;  /* blocks of shared work the helper has done, for the tests (helperBlocks) */
  Gather job;
  atomic_size_t next; /* the first row nobody has claimed */
  napi_ref refs[3];
} Ahead;

/* Claims and copies rows until none is left; both threads run it. */
static void claim_rows(Ahead *a) {
  const Gather *g = &a->job;
  for (;;) {
    const size_t i = atomic_fetch_add_explicit(&a->next, 1, memory_order_relaxed);
    if (i >= g->count) return;
    prefetch_source(g, i + GATHER_AHEAD);
    copy_row(g, i);
  }
}

static void *ahead_helper(void *data) {
  Ahead *a = data;
  pthread_mutex_lock(&a->lock);
  for (;;) {
    while (!a->posted && !a->quit) pthread_cond_wait(&a->wake, &a->lock);
    if (a->quit) break;
    a->posted = false;
    a->busy = true;
    Shared *shared = a->shared;
    pthread_mutex_unlock(&a->lock);
    int helped = 0;
    if (shared) {
      helped = claim_blocks(shared);
    } else {
      for (size_t i = 0; i < GATHER_AHEAD; i++) prefetch_source(&a->job, i);
      claim_rows(a);
    }
    pthread_mutex_lock(&a->lock);
    a->helped += helped;
    a->busy = false;
    pthread_cond_signal(&a->idle);
  }
  pthread_mutex_unlock(&a->lock);
  return NULL;
}

/* Waits for the gather in flight, if any, copying what the helper has not begun. */
static void ahead_wait(napi_env env, Ahead *a) {
  if (!a->active) return;
  claim_rows(a);
  pthread_mutex_lock(&a->lock);
  a->posted = false; /* every row is claimed: a helper still asleep need not wake for it */
  while (a->busy) pthread_cond_wait(&a->idle, &a->lock);
  pthread_mutex_unlock(&a->lock);
  for (int i = 0; i < 3; i++) napi_delete_reference(env, a->refs[i]);
  a->active = false;
}

/*
 * The JS threads of this process that work on a task now (computing). Large work is shared only
 * by a thread that is alone in that: beside another, the helper would take the core that one runs
 * on (a job's evaluation would slow the job it runs beside, unless the job waits for it).
 */
static atomic_int computing_threads;

static void ahead_stop(void *data) {
  Ahead *a = data;
  if (a->computing) atomic_fetch_sub(&computing_threads, 1); /* a worker ended mid-task */
  if (a->started) {
    pthread_mutex_lock(&a->lock);
    a->quit = true;
    pthread_cond_signal(&a->wake);
    pthread_mutex_unlock(&a->lock);
    pthread_join(a->thread, NULL);
  }
  pthread_cond_destroy(&a->wake);
  pthread_cond_destroy(&a->idle);
  pthread_mutex_destroy(&a->lock);
  free(a);
}

static Ahead *ahead_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

/*
 * Whether the helper runs (started on first use) on another core than this thread's now: false
 * when there is none, or no thread to be had.
 */
static bool ahead_elsewhere(Ahead *a) {
  const int here = sched_getcpu();
  if (a->started && here == a->away_from) return true;
  cpu_set_t cores;
  if (here < 0 || sched_getaffinity(0, sizeof cores, &cores) != 0) return false;
  CPU_CLR(here, &cores);
  if (CPU_COUNT(&cores) == 0) return false;
  if (!a->started) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_attr_setaffinity_np(&attr, sizeof cores, &cores);
    const bool started = pthread_create(&a->thread, &attr, ahead_helper, a) == 0;
    pthread_attr_destroy(&attr);
    if (!started) return false;
    a->started = true;
  } else if (pthread_setaffinity_np(a->thread, sizeof cores, &cores) != 0) {
    return false;
  }
  a->away_from = here;
  return true;
}

/* gatherRowsAhead(src, rows, out, width): gatherRows begun, to be finished by gatherRowsWait() */
static napi_value gather_rows_ahead(napi_env env, napi_callback_info info) {
  const char *fn = "gatherRowsAhead";
  napi_value argv[4];
  Gather g;
  Ahead *a = ahead_of(env);
  ahead_wait(env, a); /* one at a time: a gather never waited for ends here */
  if (!gather_arguments(env, info, fn, argv, &g)) return NULL;
  if (g.count == 0 || g.width == 0) return NULL;
  if (!ahead_elsewhere(a)) {
    gather(&g);
    return NULL;
  }
  for (int i = 0; i < 3; i++) napi_create_reference(env, argv[i], 1, &a->refs[i]);
  pthread_mutex_lock(&a->lock);
  a->job = g;
  atomic_store_explicit(&a->next, 0, memory_order_relaxed);
  a->posted = true;
  a->active = true;
  pthread_cond_signal(&a->wake);
  pthread_mutex_unlock(&a->lock);
  return NULL;
}

static void share(napi_env env, Shared *job, bool worth) {
  if (job->blocks < 2 || !worth) { /* every small product of a training step: nothing to ask */
    claim_blocks(job);
    return;
  }
  Ahead *a = ahead_of(env);
  /* A gather in flight keeps the helper; the blocks are then all this thread's. */
  const bool alone = atomic_load(&computing_threads) <= (a->computing ? 1 : 0);
  if (!alone || a->active || !ahead_elsewhere(a)) {
    claim_blocks(job);
    return;
  }
  pthread_mutex_lock(&a->lock);
  a->shared = job;
  a->posted = true;
  pthread_cond_signal(&a->wake);
  pthread_mutex_unlock(&a->lock);
  claim_blocks(job);
  pthread_mutex_lock(&a->lock);
  a->posted = false; /* every block is claimed: a helper still asleep need not wake for it */
  while (a->busy) pthread_cond_wait(&a->idle, &a->lock);
  a->shared = NULL;
  pthread_mutex_unlock(&a->lock);
}

/* computing(busy): this thread begins (true) or ends or waits within (false) a task's work */
static napi_value computing_js(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool busy;
  if (!arguments(env, info, "computing", 1, argv)) return NULL;
  if (napi_get_value_bool(env, argv[0], &busy) != napi_ok) {
    return fail(env, "computing", "busy must be a boolean");
  }
  Ahead *a = ahead_of(env);
  if (busy != a->computing) atomic_fetch_add(&computing_threads, busy ? 1 : -1);
  a->computing = busy;
  return NULL;
}

/* helperBlocks(): how many blocks of shared work this thread's helper has done */
static napi_value helper_blocks(napi_env env, napi_callback_info info) {
  (void)info;
  Ahead *a = ahead_of(env);
  pthread_mutex_lock(&a->lock);
  const double helped = a->helped;
  pthread_mutex_unlock(&a->lock);
  napi_value result;
  napi_create_double(env, helped, &result);
  return result;
}

/* gatherRowsWait(): returns once the last gatherRowsAhead's rows are all in its out */
static napi_value gather_rows_wait(napi_env env, napi_callback_info info) {
  (void)info;
  ahead_wait(env, ahead_of(env));
  return NULL;
}

/*
 * Softmax, cross-entropy against class indices and its gradient for dloss = 1, in one pass over
 * each row (book ch. 5.6.3), computed as the TypeScript reference does: exps in double, each y
 * rounded once into T, the loss from the stored y. Returns -Σ log(y[i, t_i] + 1e-7) / n, or -1
 * at the first label that is not a class index (the caller checks labels first; this keeps a
 * bad one from reading out of bounds). `exps` holds one row.
 */
#define SOFTMAX_LOSS(T)                                                                     \
  VECTORISED static int64_t softmax_loss_##T(const T *x, const T *t, T *y, T *dx, size_t n, \
                                             size_t classes, D *exps, D *loss) {            \
    const D scale = 1.0 / (D)n;                                                             \
    D sum_log = 0;                                                                          \
    for (size_t i = 0; i < n; i++) {                                                        \
      const T *xi = x + i * classes;                                                        \
      T *yi = y + i * classes, *dxi = dx + i * classes;                                     \
      const D label = (D)t[i];                                                              \
      if (!(label >= 0 && label < (D)classes && label == (D)(size_t)label))                 \
        return (int64_t)i;                                                                  \
      D max = -INFINITY;                                                                    \
      for (size_t j = 0; j < classes; j++) max = (D)xi[j] > max ? (D)xi[j] : max;           \
      D sum = 0;                                                                            \
      for (size_t j = 0; j < classes; j++) {                                                \
        exps[j] = exp((D)xi[j] - max);                                                      \
        sum += exps[j];                                                                     \
      }                                                                                     \
      for (size_t j = 0; j < classes; j++) {                                                \
        const T yj = (T)(exps[j] / sum);                                                    \
        yi[j] = yj;                                                                         \
        dxi[j] = (T)(scale * (D)yj);                                                        \
      }                                                                                     \
      const size_t k = (size_t)label;                                                       \
      sum_log += log((D)yi[k] + 1e-7);                                                      \
      dxi[k] = (T)(scale * ((D)yi[k] - 1));                                                 \
    }                                                                                       \
    *loss = -sum_log / (D)n;                                                                \
    return -1;                                                                              \
  }
SOFTMAX_LOSS(float)
SOFTMAX_LOSS(double)

/* softmaxCrossEntropy(x, t, y, dx, n, classes): the loss; y and dx written */
static napi_value softmax_cross_entropy(napi_env env, napi_callback_info info) {
  const char *fn = "softmaxCrossEntropy";
  napi_value argv[6], result;
  Array x, t, y, dx;
  int n, classes;
  if (!arguments(env, info, fn, 6, argv) || !array(env, argv[0], fn, "x", NULL, &x) ||
      !array(env, argv[1], fn, "t", &x, &t) || !array(env, argv[2], fn, "y", &x, &y) ||
      !array(env, argv[3], fn, "dx", &x, &dx) || !dim(env, argv[4], fn, "n", &n) ||
      !dim(env, argv[5], fn, "classes", &classes) ||
      !holds(env, fn, "x", &x, (size_t)n * classes) || !holds(env, fn, "t", &t, n) ||
      !holds(env, fn, "y", &y, (size_t)n * classes) ||
      !holds(env, fn, "dx", &dx, (size_t)n * classes))
    return NULL;
  if (n == 0 || classes == 0) return fail(env, fn, "n and classes must be at least 1");
  D row[256];
  D *exps = classes <= 256 ? row : malloc(sizeof(D) * (size_t)classes);
  if (!exps) {
    napi_throw_error(env, NULL, "softmaxCrossEntropy: out of memory");
    return NULL;
  }
  D loss = 0;
  int64_t bad = F32(x) ? softmax_loss_float(x.data, t.data, y.data, dx.data, n, classes, exps,
                                            &loss)
                       : softmax_loss_double(x.data, t.data, y.data, dx.data, n, classes, exps,
                                             &loss);
  if (exps != row) free(exps);
  if (bad >= 0) {
    char text[128];
    snprintf(text, sizeof text, "t[%lld] is not a class index in 0..%d", (long long)bad,
             classes - 1);
    napi_throw_range_error(env, NULL, text);
    return NULL;
  }
  napi_create_double(env, loss, &result);
  return result;
}

/* ---- base64 ------------------------------------------------------------------------------ */

/*
 * Text of at least SHARED_BASE64_MIN bytes is coded in blocks of BASE64_BLOCK (whole groups of 4
 * characters and 3 bytes), shared with the helper: a 5.3 MB tensor's text in half the time.
 */
#define SHARED_BASE64_MIN (1 << 20)
#define BASE64_BLOCK (3 << 18) /* bytes: 768 KiB, 1 MiB of text */

typedef struct {
  Shared shared;
  const uint8_t *text;
  size_t n;
  uint8_t *out;
  size_t length;
  atomic_bool invalid;
} Decode;

/* Block i: its characters are padded only when it is the last one. */
static void decode_block(Shared *job, int i) {
  Decode *d = (Decode *)job;
  const size_t from = (size_t)i * (BASE64_BLOCK / 3 * 4), at = (size_t)i * BASE64_BLOCK;
  const bool last = i == job->blocks - 1;
  const size_t chars = last ? d->n - from : BASE64_BLOCK / 3 * 4;
  if (!base64_decode(d->text + from, chars, d->out + at, last ? d->length - at : BASE64_BLOCK)) {
    atomic_store_explicit(&d->invalid, true, memory_order_relaxed);
  }
}

typedef struct {
  Shared shared;
  const uint8_t *bytes;
  size_t n;
  uint8_t *text;
} Encode;

static void encode_block(Shared *job, int i) {
  const Encode *e = (const Encode *)job;
  const size_t at = (size_t)i * BASE64_BLOCK;
  const size_t n = e->n - at < BASE64_BLOCK ? e->n - at : BASE64_BLOCK;
  base64_encode(e->bytes + at, n, e->text + at / 3 * 4);
}

/* base64Decode(text, out): true when text is padded base64 of exactly out's bytes, written there */
static napi_value base64_decode_js(napi_env env, napi_callback_info info) {
  const char *fn = "base64Decode";
  napi_value argv[2], result;
  uint8_t *text, *out;
  size_t n, length;
  if (!arguments(env, info, fn, 2, argv) ||
      !typed_array(env, argv[0], fn, "text", napi_uint8_array, "a Uint8Array", (void **)&text,
                   &n) ||
      !typed_array(env, argv[1], fn, "out", napi_uint8_array, "a Uint8Array", (void **)&out,
                   &length))
    return NULL;
  bool valid;
  /* Blocks only where the lengths agree (n/4 groups, the last one 1–3 bytes), so that each
   * block's share of out is what its characters decode to. */
  if (n % 4 == 0 && n >= 4 && length <= n / 4 * 3 && length + 2 >= n / 4 * 3) {
    Decode d = {.shared = {.block = decode_block,
                           .blocks = (int)((length + BASE64_BLOCK - 1) / BASE64_BLOCK)},
                .text = text,
                .n = n,
                .out = out,
                .length = length};
    atomic_init(&d.shared.next, 0);
    atomic_init(&d.invalid, false);
    share(env, &d.shared, n >= SHARED_BASE64_MIN);
    valid = !atomic_load(&d.invalid);
  } else {
    valid = base64_decode(text, n, out, length);
  }
  napi_get_boolean(env, valid, &result);
  return result;
}

/* base64Encode(bytes, text): text (of 4·⌈n/3⌉ characters exactly) written */
static napi_value base64_encode_js(napi_env env, napi_callback_info info) {
  const char *fn = "base64Encode";
  napi_value argv[2];
  uint8_t *bytes, *text;
  size_t n, length;
  if (!arguments(env, info, fn, 2, argv) ||
      !typed_array(env, argv[0], fn, "bytes", napi_uint8_array, "a Uint8Array", (void **)&bytes,
                   &n) ||
      !typed_array(env, argv[1], fn, "text", napi_uint8_array, "a Uint8Array", (void **)&text,
                   &length))
    return NULL;
  if (length != base64_encoded_length(n)) return fail(env, fn, "text must hold 4·⌈n/3⌉ bytes");
  Encode e = {.shared = {.block = encode_block, .blocks = (int)((n + BASE64_BLOCK - 1) / BASE64_BLOCK)},
              .bytes = bytes,
              .n = n,
              .text = text};
  atomic_init(&e.shared.next, 0);
  share(env, &e.shared, length >= SHARED_BASE64_MIN);
  return NULL;
}

/* ---- the library ---------------------------------------------------------------------------- */

/*
 * open(soname): opens OpenBLAS once per process and pins it to one thread, returning its
 * openblas_get_config() line; throws an Error saying why not (another name for the library
 * already open is fine, another library is not). One thread, because OpenBLAS starts
 * a thread per core at load and each of the pool's workers calling into it would then fight over
 * the cores (14× slower with two workers); OPENBLAS_NUM_THREADS cannot do it, as OpenBLAS reads
 * the environment of the process once, before a worker's own env is consulted.
 */
static napi_value open_library(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char soname[512];
  size_t length;
  if (!arguments(env, info, "open", 1, argv)) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], soname, sizeof soname, &length) != napi_ok) {
    return fail(env, "open", "the library's name must be a string");
  }
  char error[600] = "";
  pthread_mutex_lock(&library_lock);
  void *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    snprintf(error, sizeof error, "%s", why ? why : "dlopen failed");
  } else if (library) {
    /* The same file under any name is the same handle; anything else would be a second BLAS. */
    dlclose(handle);
    if (handle != library) {
      snprintf(error, sizeof error, "this process already runs another OpenBLAS (%s)",
               library_config);
    }
  } else {
    sgemm_fn s = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    dgemm_fn d = (dgemm_fn)dlsym(handle, "cblas_dgemm");
    set_threads_fn threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
    get_config_fn config = (get_config_fn)dlsym(handle, "openblas_get_config");
    if (!s || !d || !threads) {
      snprintf(error, sizeof error,
               "%s lacks cblas_sgemm, cblas_dgemm or openblas_set_num_threads: not OpenBLAS",
               soname);
      dlclose(handle);
    } else {
      threads(1);
      snprintf(library_config, sizeof library_config, "%s", config ? config() : "OpenBLAS");
      get_config_fn corename = (get_config_fn)dlsym(handle, "openblas_get_corename");
      const char *core = corename ? corename() : "";
      for (size_t i = 0; i < sizeof SMALL_KERNEL_CORES / sizeof *SMALL_KERNEL_CORES; i++) {
        if (strcasecmp(core, SMALL_KERNEL_CORES[i]) == 0) dgemm_block_limit = DGEMM_SMALL_LIMIT;
      }
      library = handle;
      dgemm = d;
      sgemm = s;
    }
  }
  pthread_mutex_unlock(&library_lock);
  if (error[0]) {
    napi_throw_error(env, NULL, error);
    return NULL;
  }
  napi_create_string_utf8(env, library_config, NAPI_AUTO_LENGTH, &result);
  return result;
}

/*
 * dgemmBlockLimit(limit?): the most multiply-adds per dgemm call (0: one call per product), as
 * open() chose it for this library's core; given a limit, sets it for the process and returns the
 * one before. For tests, which exercise the blocks on any core.
 */
static napi_value dgemm_block_limit_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  const double before = dgemm_block_limit;
  if (argc >= 1) {
    double limit;
    if (!number(env, argv[0], "dgemmBlockLimit", "limit", &limit)) return NULL;
    if (!(limit >= 0)) return fail(env, "dgemmBlockLimit", "limit must be at least 0");
    dgemm_block_limit = limit;
  }
  napi_create_double(env, before, &result);
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  const napi_property_descriptor functions[] = {
      {"open", NULL, open_library, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gemm", NULL, gemm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gemmNT", NULL, gemm_nt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gemmTN", NULL, gemm_tn, NULL, NULL, NULL, napi_enumerable, NULL},
      {"colSum", NULL, col_sum, NULL, NULL, NULL, napi_enumerable, NULL},
      {"axpy", NULL, axpy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"momentumStep", NULL, momentum_step, NULL, NULL, NULL, napi_enumerable, NULL},
      {"adamStep", NULL, adam_step, NULL, NULL, NULL, napi_enumerable, NULL},
      {"addRowVector", NULL, add_row_vector, NULL, NULL, NULL, napi_enumerable, NULL},
      {"relu", NULL, relu, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reluBackward", NULL, relu_backward, NULL, NULL, NULL, napi_enumerable, NULL},
      {"firstNonFinite", NULL, first_non_finite, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gatherRows", NULL, gather_rows, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gatherRowsAhead", NULL, gather_rows_ahead, NULL, NULL, NULL, napi_enumerable, NULL},
      {"gatherRowsWait", NULL, gather_rows_wait, NULL, NULL, NULL, napi_enumerable, NULL},
      {"computing", NULL, computing_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"helperBlocks", NULL, helper_blocks, NULL, NULL, NULL, napi_enumerable, NULL},
      {"softmaxCrossEntropy", NULL, softmax_cross_entropy, NULL, NULL, NULL, napi_enumerable,
       NULL},
      {"base64Decode", NULL, base64_decode_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"base64Encode", NULL, base64_encode_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dgemmBlockLimit", NULL, dgemm_block_limit_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  Ahead *ahead = calloc(1, sizeof *ahead);
  if (!ahead) {
    napi_throw_error(env, NULL, "backprop-openblas: out of memory");
    return NULL;
  }
  pthread_mutex_init(&ahead->lock, NULL);
  pthread_cond_init(&ahead->wake, NULL);
  pthread_cond_init(&ahead->idle, NULL);
  /* The helper is joined when this JS thread ends, before its heap (and the rows) are freed. */
  napi_set_instance_data(env, ahead, NULL, NULL);
  napi_add_env_cleanup_hook(env, ahead_stop, ahead);
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
