/*
 * float32 products whose left operand is mostly zeros (an image's background, a ReLU's output):
 * they skip the zeros, as the reference BLAS skips zero multipliers, instead of multiplying by them.
 * x86-64 with AVX2 only; elsewhere the caller's dense product runs.
 */
#ifndef SPARSE_PRODUCTS_H
#define SPARSE_PRODUCTS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * c[m×n] = a[m×k]·b[k×n] over a's non-zero entries, when a is worth it: its first eight rows at
 * most a quarter non-zero. False, c untouched, when it is not (or without AVX2, or out of memory).
 */
bool sparse_nn(const float *a, const float *b, float *c, size_t m, size_t k, size_t n);

#endif
