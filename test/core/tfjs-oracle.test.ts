import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// tfjs-core registers no gradients by itself (the tfjs umbrella package does this import).
import "@tensorflow/tfjs-core/dist/register_all_gradients.js";
import { beforeAll, describe, expect, it } from "vitest";
import { Affine } from "../../src/core/layers/affine.js";
import { Relu } from "../../src/core/layers/relu.js";
import { Sigmoid } from "../../src/core/layers/sigmoid.js";
import { SoftmaxWithLoss } from "../../src/core/layers/softmax-with-loss.js";
import { Network } from "../../src/core/network.js";
import type { Tensor } from "../../src/core/tensor.js";
import { backend, expectClose, indices, mulberry32, oneHot, randomTensor } from "./helpers.js";

// An independent implementation of the same math: tfjs-core on its CPU backend, in float32.
const F32 = { rtol: 1e-4, atol: 1e-6 };

const tfOf = (t: Tensor) => tf.tensor(Float32Array.from(t.data), [...t.shape], "float32");
const values = (t: tf.Tensor) => t.dataSync() as Float32Array;

/** The book's loss: -mean over rows of Σ t·log(softmax + 1e-7). */
function tfLoss(scores: tf.Tensor, oneHotT: tf.Tensor): tf.Scalar {
  return tf.neg(
    tf.mean(tf.sum(tf.mul(oneHotT, tf.log(tf.add(tf.softmax(scores), 1e-7))), 1)),
  ) as tf.Scalar;
}

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe("against tfjs-core (cpu backend), float32", () => {
  const random = mulberry32(2024);

  it("Relu", () => {
    const x = randomTensor([3, 4], "float32", random, { minAbs: 0.01 });
    const dout = randomTensor([3, 4], "float32", random);
    const relu = new Relu(backend);
    const out = relu.forward(x);
    const dx = relu.backward(dout, true)!;
    tf.tidy(() => {
      const d = tfOf(dout);
      expectClose(out.data, values(tf.relu(tfOf(x))), F32);
      const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), d)))(tfOf(x));
      expectClose(dx.data, values(grad), F32);
    });
  });

  it("Sigmoid", () => {
    const x = randomTensor([3, 4], "float32", random, { scale: 6 });
    const dout = randomTensor([3, 4], "float32", random);
    const sigmoid = new Sigmoid(backend);
    const out = sigmoid.forward(x);
    const dx = sigmoid.backward(dout, true)!;
    tf.tidy(() => {
      const d = tfOf(dout);
      expectClose(out.data, values(tf.sigmoid(tfOf(x))), F32);
      const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.sigmoid(v), d)))(tfOf(x));
      expectClose(dx.data, values(grad), F32);
    });
  });

  it("Affine, with an N-d input", () => {
    const x = randomTensor([3, 2, 3], "float32", random);
    const W = randomTensor([6, 4], "float32", random);
    const b = randomTensor([4], "float32", random);
    const dout = randomTensor([3, 4], "float32", random);
    const affine = new Affine(backend, W, b);
    const out = affine.forward(x);
    const dx = affine.backward(dout, true)!;
    tf.tidy(() => {
      const d = tfOf(dout);
      const f = (xv: tf.Tensor, Wv: tf.Tensor, bv: tf.Tensor) =>
        tf.add(tf.matMul(tf.reshape(xv, [3, 6]), Wv), bv);
      expectClose(out.data, values(f(tfOf(x), tfOf(W), tfOf(b))), F32);
      const [gx, gW, gb] = tf.grads((xv, Wv, bv) => tf.sum(tf.mul(f(xv, Wv, bv), d)))([
        tfOf(x),
        tfOf(W),
        tfOf(b),
      ]);
      expect(dx.shape).toEqual(gx.shape);
      expectClose(dx.data, values(gx), F32);
      expectClose(affine.W.grad.data, values(gW), F32);
      expectClose(affine.b.grad.data, values(gb), F32);
    });
  });

  it.each(["oneHot", "indices"] as const)("SoftmaxWithLoss, %s labels", (kind) => {
    // tf differentiates the 1e-7 inside the log too, which scales row i of the gradient by
    // y[t] / (y[t] + 1e-7): moderate scores keep y[t] well above 1e-7 / 1e-4.
    const scores = randomTensor([4, 5], "float32", random, { scale: 2 });
    const labels = [3, 0, 4, 1];
    const t = kind === "oneHot" ? oneHot(labels, 5, "float32") : indices(labels, "float32");
    const layer = new SoftmaxWithLoss(backend);
    const y = layer.forward(scores);
    const loss = layer.loss(t);
    const dx = layer.backward(0.5);
    tf.tidy(() => {
      const hot = tfOf(oneHot(labels, 5, "float32"));
      expectClose(y.data, values(tf.softmax(tfOf(scores))), F32);
      expect(loss).toBeCloseTo(tfLoss(tfOf(scores), hot).dataSync()[0], 5);
      const grad = tf.grad((s: tf.Tensor) => tf.mul(tfLoss(s, hot), 0.5))(tfOf(scores));
      expectClose(dx.data, values(grad), F32);
    });
  });

  it("a two-layer net, affine-relu-affine-softmaxWithLoss", () => {
    const [n, inputs, hidden, classes] = [5, 6, 4, 3];
    const specs = {
      W1: randomTensor([inputs, hidden], "float32", random),
      b1: randomTensor([hidden], "float32", random),
      W2: randomTensor([hidden, classes], "float32", random),
      b2: randomTensor([classes], "float32", random),
    };
    const x = randomTensor([n, inputs], "float32", random);
    const labels = [0, 2, 1, 1, 2];
    const net = Network.fromSpecs(
      [
        { type: "affine", W: specs.W1, b: specs.b1 },
        { type: "relu" },
        { type: "affine", W: specs.W2, b: specs.b2 },
        { type: "softmaxWithLoss" },
      ],
      "float32",
      backend,
    );
    const { out, loss } = net.loss(x, indices(labels, "float32"));
    const dx = net.backward({ needDx: true })!;
    tf.tidy(() => {
      const vars = {
        W1: tf.variable(tfOf(specs.W1)),
        b1: tf.variable(tfOf(specs.b1)),
        W2: tf.variable(tfOf(specs.W2)),
        b2: tf.variable(tfOf(specs.b2)),
      };
      const hot = tfOf(oneHot(labels, classes, "float32"));
      const scores = (xv: tf.Tensor) =>
        tf.add(tf.matMul(tf.relu(tf.add(tf.matMul(xv, vars.W1), vars.b1)), vars.W2), vars.b2);
      const { value, grads } = tf.variableGrads(() => tfLoss(scores(tfOf(x)), hot));
      expect(loss).toBeCloseTo(value.dataSync()[0], 5);
      expectClose(out.data, values(tf.softmax(scores(tfOf(x)))), F32);
      const params = net.parameters();
      [vars.W1, vars.b1, vars.W2, vars.b2].forEach((v, i) => {
        expectClose(params[i].grad.data, values(grads[v.name]), F32);
      });
      const gx = tf.grad((xv: tf.Tensor) => tfLoss(scores(xv), hot))(tfOf(x));
      expectClose(dx.data, values(gx), F32);
      for (const v of Object.values(vars)) v.dispose();
    });
  });
});
