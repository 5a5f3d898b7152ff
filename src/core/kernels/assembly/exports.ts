/**
 * The exported functions of the kernel modules, once per dtype, in the argument order of the
 * kernel interface that wasm-ops.ts binds them to. This file is the entry `npm run build:wasm`
 * compiles, twice: with plain SIMD (dist/kernels/simd.wasm) and with relaxed SIMD
 * (dist/kernels/relaxed-simd.wasm); see madd.ts for the one instruction that differs.
 */
import { adamStep, addRowVector, axpy, firstNonFinite, momentumStep, relu, reluBackward } from "./elementwise";
import { colSum, product } from "./products";

export { scratchBytes } from "./products";

// Products: the strides passed to `product` fold each transpose into the packing.

export function gemm_f32(a: usize, b: usize, out: usize, m: i32, k: i32, n: i32, scratch: usize): void {
  product<f32>(a, k, 1, b, n, 1, out, m, k, n, scratch);
}
export function gemmNT_f32(a: usize, b: usize, out: usize, m: i32, n: i32, k: i32, scratch: usize): void {
  product<f32>(a, n, 1, b, 1, n, out, m, n, k, scratch);
}
export function gemmTN_f32(a: usize, b: usize, out: usize, m: i32, k: i32, n: i32, scratch: usize): void {
  product<f32>(a, 1, k, b, n, 1, out, k, m, n, scratch);
}
export function colSum_f32(a: usize, out: usize, m: i32, n: i32): void {
  colSum<f32>(a, out, m, n);
}
export function gemm_f64(a: usize, b: usize, out: usize, m: i32, k: i32, n: i32, scratch: usize): void {
  product<f64>(a, k, 1, b, n, 1, out, m, k, n, scratch);
}
export function gemmNT_f64(a: usize, b: usize, out: usize, m: i32, n: i32, k: i32, scratch: usize): void {
  product<f64>(a, n, 1, b, 1, n, out, m, n, k, scratch);
}
export function gemmTN_f64(a: usize, b: usize, out: usize, m: i32, k: i32, n: i32, scratch: usize): void {
  product<f64>(a, 1, k, b, n, 1, out, k, m, n, scratch);
}
export function colSum_f64(a: usize, out: usize, m: i32, n: i32): void {
  colSum<f64>(a, out, m, n);
}

// Elementwise.

export function axpy_f32(alpha: f32, x: usize, y: usize, n: i32): void {
  axpy<f32>(alpha, x, y, n);
}
export function momentumStep_f32(W: usize, g: usize, v: usize, mu: f32, lr: f32, n: i32): void {
  momentumStep<f32>(W, g, v, mu, lr, n);
}
export function adamStep_f32(
  W: usize,
  g: usize,
  m: usize,
  v: usize,
  beta1: f32,
  beta2: f32,
  lrT: f32,
  n: i32,
): void {
  adamStep<f32>(W, g, m, v, beta1, beta2, lrT, n);
}
export function addRowVector_f32(out: usize, b: usize, m: i32, n: i32): void {
  addRowVector<f32>(out, b, m, n);
}
export function relu_f32(x: usize, out: usize, n: i32): void {
  relu<f32>(x, out, n);
}
export function reluBackward_f32(out: usize, dout: usize, dx: usize, n: i32): void {
  reluBackward<f32>(out, dout, dx, n);
}
export function firstNonFinite_f32(a: usize, n: i32): i32 {
  return firstNonFinite<f32>(a, n);
}
export function axpy_f64(alpha: f64, x: usize, y: usize, n: i32): void {
  axpy<f64>(alpha, x, y, n);
}
export function momentumStep_f64(W: usize, g: usize, v: usize, mu: f64, lr: f64, n: i32): void {
  momentumStep<f64>(W, g, v, mu, lr, n);
}
export function adamStep_f64(
  W: usize,
  g: usize,
  m: usize,
  v: usize,
  beta1: f64,
  beta2: f64,
  lrT: f64,
  n: i32,
): void {
  adamStep<f64>(W, g, m, v, beta1, beta2, lrT, n);
}
export function addRowVector_f64(out: usize, b: usize, m: i32, n: i32): void {
  addRowVector<f64>(out, b, m, n);
}
export function relu_f64(x: usize, out: usize, n: i32): void {
  relu<f64>(x, out, n);
}
export function reluBackward_f64(out: usize, dout: usize, dx: usize, n: i32): void {
  reluBackward<f64>(out, dout, dx, n);
}
export function firstNonFinite_f64(a: usize, n: i32): i32 {
  return firstNonFinite<f64>(a, n);
}
