import * as tf from "@tensorflow/tfjs-core";
tf.env().set("IS_TEST", true);
await import("@tensorflow/tfjs-backend-cpu");
const wasm = await import("@tensorflow/tfjs-backend-wasm");
wasm.setThreadsCount(1);
console.log(await tf.setBackend("wasm"), tf.getBackend(), wasm.getThreadsCount(), await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
for (const [m,k,n,ta,tb] of [[1000,1000,1000,false,false],[100,784,50,false,false],[100,50,784,false,true],[784,100,50,true,false]] as const) {
  const a = tf.randomUniform(ta ? [k,m] : [m,k]); const b = tf.randomUniform(tb ? [n,k] : [k,n]);
  for (let r=0;r<5;r++){ const s=performance.now(); const c=tf.matMul(a,b,ta,tb); c.dataSync(); c.dispose(); const ms=performance.now()-s; if(r>=3) console.log(m,k,n,ta,tb, ms.toFixed(3), (2*m*k*n/ms/1e6).toFixed(1)); }
}
const { supportsPath } = await import("../src/core/kernels/index.js");
console.log(supportsPath("relaxed-simd"), supportsPath("simd"));
