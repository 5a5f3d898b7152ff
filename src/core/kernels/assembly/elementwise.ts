/**
 * The elementwise kernels of typescript-ops.ts (axpy, the optimizer steps, bias add, ReLU, the
 * finiteness check) in WebAssembly SIMD, generic over T = f32 or f64: vector by vector with a
 * scalar tail. `exports.ts` instantiates them once per dtype.
 */
import { madd } from "./madd";

/** y[i] += alpha·x[i] */
export function axpy<T>(alpha: T, x: usize, y: usize, n: i32): void {
  const s = sizeof<T>();
  const lanes = 16 / <i32>s;
  const a = v128.splat<T>(alpha);
  let i = 0;
  for (; i + lanes <= n; i += lanes) {
    const o = <usize>i * s;
    v128.store(y + o, madd<T>(a, v128.load(x + o), v128.load(y + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i * s;
    store<T>(y + o, load<T>(y + o) + alpha * load<T>(x + o));
  }
}

/** Momentum SGD: v = momentum·v - lr·g; W += v */
export function momentumStep<T>(W: usize, g: usize, v: usize, momentum: T, lr: T, n: i32): void {
  const s = sizeof<T>();
  const lanes = 16 / <i32>s;
  const mu = v128.splat<T>(momentum);
  const minusLr = v128.splat<T>(-lr);
  let i = 0;
  for (; i + lanes <= n; i += lanes) {
    const o = <usize>i * s;
    const vi = madd<T>(minusLr, v128.load(g + o), v128.mul<T>(mu, v128.load(v + o)));
    v128.store(v + o, vi);
    v128.store(W + o, v128.add<T>(v128.load(W + o), vi));
  }
  for (; i < n; i++) {
    const o = <usize>i * s;
    const vi = momentum * load<T>(v + o) - lr * load<T>(g + o);
    store<T>(v + o, vi);
    store<T>(W + o, load<T>(W + o) + vi);
  }
}

/** Adam: m += (1 - β1)(g - m); v += (1 - β2)(g² - v); W -= lrT·m / (√v + 1e-7) */
export function adamStep<T>(
  W: usize,
  g: usize,
  m: usize,
  v: usize,
  beta1: T,
  beta2: T,
  lrT: T,
  n: i32,
): void {
  const s = sizeof<T>();
  const lanes = 16 / <i32>s;
  const a1 = v128.splat<T>(1 - beta1);
  const a2 = v128.splat<T>(1 - beta2);
  const rate = v128.splat<T>(lrT);
  const eps = v128.splat<T>(<T>1e-7);
  let i = 0;
  for (; i + lanes <= n; i += lanes) {
    const o = <usize>i * s;
    const gi = v128.load(g + o);
    let mi = v128.load(m + o);
    let vi = v128.load(v + o);
    mi = madd<T>(a1, v128.sub<T>(gi, mi), mi);
    vi = madd<T>(a2, v128.sub<T>(v128.mul<T>(gi, gi), vi), vi);
    v128.store(m + o, mi);
    v128.store(v + o, vi);
    const step = v128.div<T>(v128.mul<T>(rate, mi), v128.add<T>(v128.sqrt<T>(vi), eps));
    v128.store(W + o, v128.sub<T>(v128.load(W + o), step));
  }
  for (; i < n; i++) {
    const o = <usize>i * s;
    const gi = load<T>(g + o);
    const mi = load<T>(m + o) + (1 - beta1) * (gi - load<T>(m + o));
    const vi = load<T>(v + o) + (1 - beta2) * (gi * gi - load<T>(v + o));
    store<T>(m + o, mi);
    store<T>(v + o, vi);
    store<T>(W + o, load<T>(W + o) - (lrT * mi) / (<T>Math.sqrt(vi) + <T>1e-7));
  }
}

/** out[m×n] += b[n] on every row */
export function addRowVector<T>(out: usize, b: usize, m: i32, n: i32): void {
  const s = sizeof<T>();
  const lanes = 16 / <i32>s;
  for (let r = 0; r < m; r++, out += <usize>n * s) {
    let j = 0;
    for (; j + lanes <= n; j += lanes) {
      const o = <usize>j * s;
      v128.store(out + o, v128.add<T>(v128.load(out + o), v128.load(b + o)));
    }
    for (; j < n; j++) {
      const o = <usize>j * s;
      store<T>(out + o, load<T>(out + o) + load<T>(b + o));
    }
  }
}

/** out = x where x > 0, else 0; NaN passes through (x <= 0 is false for it) */
export function relu<T>(x: usize, out: usize, n: i32): void {
  const s = sizeof<T>();
  const lanes = 16 / <i32>s;
  const zero = v128.splat<T>(0);
  let i = 0;
  for (; i + lanes <= n; i += lanes) {
    const o = <usize>i * s;
    const v = v128.load(x + o);
    v128.store(out + o, v128.bitselect(zero, v, v128.le<T>(v, zero)));
  }
  for (; i < n; i++) {
    const o = <usize>i * s;
    const v = load<T>(x + o);
    store<T>(out + o, v <= 0 ? <T>0 : v);
  }
}

/** dx = dout where out > 0, else 0 */
export function reluBackward<T>(out: usize, dout: usize, dx: usize, n: i32): void {
  const s = sizeof<T>();
  const lanes = 16 / <i32>s;
  const zero = v128.splat<T>(0);
  let i = 0;
  for (; i + lanes <= n; i += lanes) {
    const o = <usize>i * s;
    v128.store(dx + o, v128.and(v128.load(dout + o), v128.gt<T>(v128.load(out + o), zero)));
  }
  for (; i < n; i++) {
    const o = <usize>i * s;
    store<T>(dx + o, load<T>(out + o) > 0 ? load<T>(dout + o) : <T>0);
  }
}

/** Index of the first NaN or ±∞ (where v - v is not 0), or -1 */
export function firstNonFinite<T>(a: usize, n: i32): i32 {
  const s = sizeof<T>();
  const lanes = 16 / <i32>s;
  // A sum of v - v stays 0 unless some v is not finite; only then look for which one.
  let sum = v128.splat<T>(0);
  let i = 0;
  for (; i + lanes <= n; i += lanes) {
    const v = v128.load(a + <usize>i * s);
    sum = v128.add<T>(sum, v128.sub<T>(v, v));
  }
  let tail = <T>0;
  for (; i < n; i++) {
    const v = load<T>(a + <usize>i * s);
    tail += v - v;
  }
  if (tail == 0 && v128.all_true<i32>(v128.eq<T>(sum, v128.splat<T>(0)))) return -1;
  for (i = 0; i < n; i++) {
    const v = load<T>(a + <usize>i * s);
    if (!(v - v == 0)) return i;
  }
  return -1;
}
