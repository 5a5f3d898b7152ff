/*
 * float32 products whose left operand is mostly zeros (an image's background, a ReLU's output):
 * they skip the zeros, as the reference BLAS skips zero multipliers, instead of multiplying by them.
 * x86-64 with AVX2 only; elsewhere mostly_zeros answers false and the dense product runs.
 */
#ifndef SPARSE_PRODUCTS_H
#define SPARSE_PRODUCTS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a [m×k] is worth skipping the zeros of: its first rows are at most a quarter non-zero. */
bool mostly_zeros(const float *a, size_t m, size_t k);

/* c[m×n] = a[m×k]·b[k×n] over a's non-zero entries; false when out of memory (c untouched). */
bool sparse_nn(const float *a, const float *b, float *c, size_t m, size_t k, size_t n);

#endif
