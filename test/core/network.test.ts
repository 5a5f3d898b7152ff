import { describe, expect, it, vi } from "vitest";
import { Backend } from "../../src/core/backend.js";
import { NonFiniteError, ShapeError } from "../../src/core/errors.js";
import {
  checkInputGradient,
  checkParameters,
  type Objective,
} from "../../src/core/gradient-check.js";
import type { LayerSpec } from "../../src/core/layer-spec.js";
import { Network } from "../../src/core/network.js";
import { clone, DTYPES, type DType, fromValues, type Tensor } from "../../src/core/tensor.js";
import {
  affineSpec,
  backend,
  confidentLabels,
  expectClose,
  indices,
  mulberry32,
  oneHot,
  randomTensor,
  reluMargin,
} from "./helpers.js";

function caught(f: () => unknown): Error {
  try {
    f();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected an error");
}

const affine = (inputs: number, outputs: number, seed: number) =>
  affineSpec(inputs, outputs, mulberry32(seed));

describe("Network.fromSpecs", () => {
  it("lists W then b of each affine layer, copied and cast into the dtype", () => {
    const specs: LayerSpec[] = [affine(3, 2, 1), { type: "relu" }, affine(2, 4, 2)];
    const net = Network.fromSpecs(specs, "float32", backend);
    const params = net.parameters();
    expect(params.map((p) => [p.role, p.value.shape])).toEqual([
      ["weight", [3, 2]],
      ["bias", [2]],
      ["weight", [2, 4]],
      ["bias", [4]],
    ]);
    expect(params[0].value.data).toBeInstanceOf(Float32Array);
    expect(params[0].value.data[0]).toBe(Math.fround((specs[0] as { W: Tensor }).W.data[0]));
    expect(net.layers.map((l) => l.type)).toEqual(["affine", "relu", "affine"]);
    expect(net.hasLoss).toBe(false);
    // A copy: training the network never writes into the request's tensors.
    const same = Network.fromSpecs(specs, "float64", backend);
    same.parameters()[0].value.data[0] = 123;
    expect((specs[0] as { W: Tensor }).W.data[0]).not.toBe(123);
  });

  it("gives its layers back as specs", () => {
    const specs: LayerSpec[] = [affine(3, 2, 1), { type: "sigmoid" }, { type: "softmaxWithLoss" }];
    const again = Network.fromSpecs(specs, "float64", backend).specs();
    expect(again).toEqual(specs);
  });

  const invalid: [string, LayerSpec[], string, RegExp][] = [
    ["no layer", [], "layers", /at least one layer/],
    [
      "softmaxWithLoss before the end",
      [{ type: "softmaxWithLoss" }, { type: "relu" }],
      "layers[0]",
      /last layer/,
    ],
    [
      "a W of rank 1",
      [
        { type: "relu" },
        {
          type: "affine",
          W: fromValues([2], [1, 2], "float64"),
          b: fromValues([2], [1, 2], "float64"),
        },
      ],
      "layers[1].W",
      /matrix/,
    ],
    [
      "a b of the wrong length",
      [
        {
          type: "affine",
          W: fromValues([1, 2], [1, 2], "float64"),
          b: fromValues([3], [1, 2, 3], "float64"),
        },
      ],
      "layers[0].b",
      /expected \[2\], got \[3\]/,
    ],
    [
      "affine layers that do not chain",
      [affine(3, 5, 1), { type: "relu" }, affine(4, 2, 2)],
      "layers[2].W",
      /^layer 2: affine W has 4 rows but .* 5 features \(expected \[5, 2\], got \[4, 2\]\)$/,
    ],
  ];
  it.each(invalid)("rejects %s", (_, specs, path, message) => {
    const error = caught(() => Network.fromSpecs(specs, "float64", backend)) as ShapeError;
    expect(error).toBeInstanceOf(ShapeError);
    expect(error.path).toBe(path);
    expect(error.message).toMatch(message);
  });
});

describe("Network.checkShapes", () => {
  const net = Network.fromSpecs(
    [affine(6, 40, 1), { type: "relu" }, affine(40, 3, 2), { type: "softmaxWithLoss" }],
    "float64",
    backend,
  );

  it("gives the output shape, flattening N-d input and dropping the axis of a 1-D x", () => {
    expect(net.checkShapes([5, 6])).toEqual([5, 3]);
    expect(net.checkShapes([5, 2, 3], [5])).toEqual([5, 3]);
    expect(net.checkShapes([6], [3])).toEqual([3]);
    expect(net.checkShapes([6], [1])).toEqual([3]);
  });

  it("names the layer index and both shapes", () => {
    const error = caught(() => net.checkShapes([5, 30])) as ShapeError;
    expect(error).toBeInstanceOf(ShapeError);
    expect(error.layer).toBe(0);
    // Before the first affine, a misfit is x's: the request's W is what x should fit.
    expect(error.path).toBe("x");
    expect(error.message).toBe(
      "layer 0: x does not fit: affine input has 30 features but W has 6 rows (expected [5, 6], got [5, 30])",
    );
    const deeper = Network.fromSpecs(
      [{ type: "relu" }, { type: "sigmoid" }, affine(4, 2, 3)],
      "float64",
      backend,
    );
    const error2 = caught(() => deeper.checkShapes([5, 3])) as ShapeError;
    expect(error2.layer).toBe(2);
    expect(error2.path).toBe("x");
    expect(error2.message).toMatch(/^layer 2: .*\(expected \[5, 4\], got \[5, 3\]\)$/);
  });

  it("checks t against the scores, on path t", () => {
    const cases: [number[], number[]][] = [
      [
        [5, 6],
        [5, 4],
      ],
      [[5, 6], [4]],
      [
        [5, 6],
        [5, 3, 1],
      ],
      [[6], [2]],
      [[6], [1, 3]],
    ];
    for (const [xShape, tShape] of cases) {
      const error = caught(() => net.checkShapes(xShape, tShape)) as ShapeError;
      expect(error).toBeInstanceOf(ShapeError);
      expect(error.path).toBe("t");
    }
    const noLoss = Network.fromSpecs([{ type: "relu" }], "float64", backend);
    expect((caught(() => noLoss.checkShapes([2, 2], [2])) as ShapeError).path).toBe("t");
  });

  it("rejects an x without axes or with an empty axis", () => {
    for (const shape of [[], [0, 6], [5, 0]]) {
      expect((caught(() => net.checkShapes(shape)) as ShapeError).path).toBe("x");
    }
  });

  it("wants 2-D scores for softmaxWithLoss", () => {
    const lone = Network.fromSpecs([{ type: "softmaxWithLoss" }], "float64", backend);
    const error = caught(() => lone.checkShapes([2, 3, 4])) as ShapeError;
    expect(error.layer).toBe(0);
    expect(error.message).toMatch(/\[2, 3, 4\]/);
  });
});

interface GradientCase {
  name: string;
  specs: LayerSpec[];
  x: Tensor;
  objective: (specs: LayerSpec[], x: Tensor) => Objective;
  /** Bound for the parameters; dx is always held to 1e-7. */
  parameterBound?: number;
}

function lossWith(kind: "oneHot" | "indices", label: number) {
  return (specs: LayerSpec[], input: Tensor): Objective => {
    const labels = confidentLabels(specs, input, label);
    const classes = (specs.findLast((s) => s.type === "affine") as { b: Tensor }).b.shape[0];
    if (input.shape.length === 1) {
      // A 1-D x has 1-D scores: one-hot [classes] or one index [1].
      const t = kind === "oneHot" ? oneHot(labels, classes, "float64") : indices(labels, "float64");
      return { t: kind === "oneHot" ? { shape: [classes], data: t.data } : t };
    }
    return {
      t: kind === "oneHot" ? oneHot(labels, classes, "float64") : indices(labels, "float64"),
    };
  };
}

function weightedSum(outShape: number[]) {
  return (): Objective => ({ dout: randomTensor(outShape, "float64", mulberry32(99)) });
}

const x = (shape: number[], seed: number, minAbs = 0) =>
  randomTensor(shape, "float64", mulberry32(seed), { minAbs });

// Networks with a loss are checked on one sample: over a batch, the 1e-7 inside the log weighs
// each sample's numerical gradient by its own y[t] / (y[t] + 1e-7) (see confidentLabels), and
// where the samples' contributions to a parameter cancel, those unequal weights show as a
// relative error above 1e-7 that is the loss's, not backprop's. dx is per sample, so batches are
// held to 1e-7 there; their parameters get the looser bound.
// About ∛ε: the step where truncation (h²) and rounding (ε/h) errors of central differences meet.
const H = 1e-5;
const CASES: GradientCase[] = [
  {
    name: "affine-relu-affine-softmaxWithLoss, index label",
    specs: [affine(5, 4, 11), { type: "relu" }, affine(4, 3, 12), { type: "softmaxWithLoss" }],
    x: x([1, 5], 13),
    objective: lossWith("indices", 2),
  },
  {
    name: "affine-sigmoid-affine-softmaxWithLoss, one-hot label, N-d input",
    specs: [affine(6, 4, 21), { type: "sigmoid" }, affine(4, 3, 22), { type: "softmaxWithLoss" }],
    x: x([1, 2, 3], 23),
    objective: lossWith("oneHot", 0),
  },
  {
    name: "sigmoid-affine-relu-affine-softmaxWithLoss, 1-D x, index label",
    specs: [
      { type: "sigmoid" },
      affine(4, 5, 51),
      { type: "relu" },
      affine(5, 3, 52),
      { type: "softmaxWithLoss" },
    ],
    x: x([4], 53),
    objective: lossWith("indices", 1),
  },
  {
    name: "affine-softmaxWithLoss, 1-D x, one-hot label",
    specs: [affine(4, 3, 71), { type: "softmaxWithLoss" }],
    x: x([4], 72),
    objective: lossWith("oneHot", 2),
  },
  {
    name: "affine-relu-affine-softmaxWithLoss over a batch of 4, index labels",
    specs: [affine(5, 4, 81), { type: "relu" }, affine(4, 3, 82), { type: "softmaxWithLoss" }],
    x: x([4, 5], 84),
    objective: lossWith("indices", 1),
    parameterBound: 1e-5,
  },
  {
    name: "affine-sigmoid-affine-softmaxWithLoss over a batch of 3, one-hot labels",
    specs: [affine(5, 4, 91), { type: "sigmoid" }, affine(4, 3, 92), { type: "softmaxWithLoss" }],
    x: x([3, 5], 93),
    objective: lossWith("oneHot", 0),
    parameterBound: 1e-5,
  },
  {
    name: "affine-relu-affine-sigmoid, no loss, batch of 3",
    specs: [affine(4, 5, 31), { type: "relu" }, affine(5, 3, 32), { type: "sigmoid" }],
    x: x([3, 4], 34),
    objective: weightedSum([3, 3]),
  },
  {
    name: "relu-affine, no loss, N-d input",
    specs: [{ type: "relu" }, affine(6, 2, 41)],
    x: x([2, 3, 2], 42, 0.1),
    objective: weightedSum([2, 2]),
  },
  {
    name: "affine-relu-affine-sigmoid-affine-relu, no loss, batch of 3",
    specs: [
      affine(3, 4, 61),
      { type: "relu" },
      affine(4, 4, 62),
      { type: "sigmoid" },
      affine(4, 2, 63),
      { type: "relu" },
    ],
    x: x([3, 3], 64),
    objective: weightedSum([3, 2]),
  },
];

describe("backprop against central differences (float64, relative error < 1e-7)", () => {
  it.each(CASES)("$name", ({ specs, x: input, objective, parameterBound = 1e-7 }) => {
    const target = objective(specs, input);
    // No perturbation may cross ReLU's kink.
    expect(reluMargin(specs, input)).toBeGreaterThan(1e-2);
    const net = Network.fromSpecs(specs, "float64", backend);
    const dx = checkInputGradient(net, input, target, H);
    expect(dx.maxRelError).toBeLessThan(1e-7);
    const report = checkParameters(net, input, target, H);
    expect(report.length).toBe(net.parameters().length);
    for (const r of report) {
      expect(r.maxRelError, `layers[${r.layer}].${r.name}`).toBeLessThan(parameterBound);
    }
  });
});

describe("Network forward, loss and backward", () => {
  const specs: LayerSpec[] = [
    affine(4, 5, 81),
    { type: "relu" },
    affine(5, 3, 82),
    { type: "softmaxWithLoss" },
  ];

  it("computes a 1-D x as a batch of one and drops that axis again", () => {
    const net = Network.fromSpecs(specs, "float64", backend);
    const sample = x([4], 83);
    const batch = fromValues([1, 4], sample.data, "float64");
    for (const t of [fromValues([3], [0, 0, 1], "float64"), indices([2], "float64")]) {
      const one = net.loss(sample, t);
      const dx1 = net.backward({ needDx: true })!;
      const grads1 = net.parameters().map((p) => Array.from(p.grad.data));
      const many = net.loss(
        batch,
        t.shape.length === 1 && t.shape[0] === 3 ? fromValues([1, 3], t.data, "float64") : t,
      );
      const dxN = net.backward({ needDx: true })!;
      expect(one.out.shape).toEqual([3]);
      expect(dx1.shape).toEqual([4]);
      expect(one.loss).toBe(many.loss);
      expect(Array.from(one.out.data)).toEqual(Array.from(many.out.data));
      expect(Array.from(dx1.data)).toEqual(Array.from(dxN.data));
      expect(net.parameters().map((p) => Array.from(p.grad.data))).toEqual(grads1);
    }
    expect(net.forward(sample).shape).toEqual([3]);
  });

  it("runs a lone relu and a lone softmaxWithLoss (the /v1/layers routes)", () => {
    const relu = Network.fromSpecs([{ type: "relu" }], "float32", backend);
    expect(Array.from(relu.forward(fromValues([3], [-1, 0, 2], "float32")).data)).toEqual([
      0, 0, 2,
    ]);
    const dx = relu.backward({ dout: fromValues([3], [5, 6, 7], "float32"), needDx: true })!;
    expect(dx.shape).toEqual([3]);
    expect(Array.from(dx.data)).toEqual([0, 0, 7]);

    const soft = Network.fromSpecs([{ type: "softmaxWithLoss" }], "float64", backend);
    const { out, loss } = soft.loss(fromValues([3], [1, 2, 3], "float64"), indices([2], "float64"));
    expect(out.shape).toEqual([3]);
    expect(loss).toBeCloseTo(-Math.log(out.data[2] + 1e-7), 14);
    const dxs = soft.backward({ dloss: 2, needDx: true })!;
    expect(Array.from(dxs.data)).toEqual([2 * out.data[0], 2 * out.data[1], 2 * (out.data[2] - 1)]);
    expect(soft.backward({ needDx: false })).toBeNull();
  });

  it("gives null for needDx false, the same gradients, and skips the first dout·Wᵀ", () => {
    const own = Backend.typescript();
    const calls: string[] = [];
    const gemmNT = own.ops.gemmNT;
    vi.spyOn(own.ops, "gemmNT").mockImplementation((...args) => {
      calls.push("gemmNT");
      gemmNT(...args);
    });
    {
      const net = Network.fromSpecs(specs, "float64", own);
      const input = x([3, 4], 84);
      const t = indices([0, 1, 2], "float64");
      net.loss(input, t);
      expect(net.backward({ needDx: true })).not.toBeNull();
      expect(calls).toEqual(["gemmNT", "gemmNT"]);
      const withDx = net.parameters().map((p) => Array.from(p.grad.data));
      calls.length = 0;
      net.loss(input, t);
      expect(net.backward({ needDx: false })).toBeNull();
      expect(calls).toEqual(["gemmNT"]);
      expect(net.parameters().map((p) => Array.from(p.grad.data))).toEqual(withDx);
    }
  });

  it("hands out its own output buffer with view, which the next pass overwrites", () => {
    const net = Network.fromSpecs([affine(4, 3, 89), { type: "relu" }], "float32", backend);
    const [x1, x2] = [x([2, 4], 90), x([2, 4], 91)];
    const expected2 = net.forward(x2);
    const viewed = net.forward(x1, { view: true });
    const expected1 = clone(viewed);
    expect(net.forward(x1)).toEqual(expected1);
    net.forward(x2);
    // The same buffer, now holding the second pass's output.
    expect(viewed.data).toEqual(expected2.data);
    expect(viewed.data).not.toEqual(expected1.data);
  });

  it("never changes dout, x or t, and hands out copies that later calls leave alone", () => {
    const net = Network.fromSpecs(
      [affine(4, 3, 85), { type: "sigmoid" }, affine(3, 2, 86), { type: "relu" }],
      "float32",
      backend,
    );
    const x1 = x([2, 4], 87);
    const x2 = x([2, 4], 88);
    const dout = fromValues([2, 2], [1, -2, 3, -4], "float32");
    const saved = [clone(x1), clone(dout)];
    const out1 = net.forward(x1);
    const copy = clone(out1);
    const dx1 = net.backward({ dout, needDx: true })!;
    const dxCopy = clone(dx1);
    net.forward(x2);
    net.backward({ dout, needDx: true });
    expect(out1).toEqual(copy);
    expect(dx1).toEqual(dxCopy);
    expect([x1, dout]).toEqual(saved);

    const lossNet = Network.fromSpecs(specs, "float64", backend);
    const t = oneHot([1, 2], 3, "float64");
    const tBefore = clone(t);
    lossNet.loss(x([2, 4], 89), t);
    lossNet.backward({ needDx: true });
    expect(t).toEqual(tBefore);
  });

  it("overwrites parameter gradients on each backward", () => {
    const net = Network.fromSpecs(specs, "float64", backend);
    const input = x([2, 4], 90);
    const t = indices([0, 1], "float64");
    net.loss(input, t);
    net.backward({ needDx: false });
    const once = net.parameters().map((p) => Array.from(p.grad.data));
    net.loss(input, t);
    net.backward({ needDx: false });
    expect(net.parameters().map((p) => Array.from(p.grad.data))).toEqual(once);
  });

  it("agrees between float32 and float64 within float32 tolerance", () => {
    const input = x([5, 4], 91);
    const t = indices([0, 1, 2, 1, 0], "float64");
    const results = (["float32", "float64"] as DType[]).map((dtype) => {
      const net = Network.fromSpecs(specs, dtype, backend);
      const { out, loss } = net.loss(input, t);
      const dx = net.backward({ needDx: true })!;
      expect(out.data).toBeInstanceOf(dtype === "float32" ? Float32Array : Float64Array);
      expect(dx.data).toBeInstanceOf(out.data.constructor);
      return { out, loss, dx, grads: net.parameters().map((p) => p.grad.data) };
    });
    const [f32, f64] = results;
    const tol = { rtol: 1e-5, atol: 1e-6 };
    expect(f32.loss).toBeCloseTo(f64.loss, 5);
    expectClose(f32.out.data, f64.out.data, tol);
    expectClose(f32.dx.data, f64.dx.data, tol);
    f32.grads.forEach((g, i) => {
      expectClose(g, f64.grads[i], tol);
    });
  });

  it("validates dout, dloss and the order of calls", () => {
    const noLoss = Network.fromSpecs([affine(2, 3, 92)], "float64", backend);
    expect(() =>
      noLoss.backward({ dout: fromValues([1, 3], [1, 2, 3], "float64"), needDx: true }),
    ).toThrow(/forward/);
    noLoss.forward(x([2, 2], 93));
    expect((caught(() => noLoss.backward({ needDx: true })) as ShapeError).path).toBe("dout");
    const wrong = caught(() =>
      noLoss.backward({ dout: fromValues([3, 2], [1, 2, 3, 4, 5, 6], "float64"), needDx: true }),
    ) as ShapeError;
    expect(wrong.path).toBe("dout");
    expect(wrong.message).toMatch(/expected \[2, 3\], got \[3, 2\]/);

    const lossNet = Network.fromSpecs(specs, "float64", backend);
    lossNet.forward(x([2, 4], 94));
    expect(() => lossNet.backward({ needDx: true })).toThrow(/loss/);
    lossNet.loss(x([2, 4], 94), indices([0, 1], "float64"));
    expect(
      (
        caught(() =>
          lossNet.backward({
            dout: fromValues([2, 3], [1, 2, 3, 4, 5, 6], "float64"),
            needDx: true,
          }),
        ) as ShapeError
      ).path,
    ).toBe("dout");
    expect(() => noLoss.loss(x([2, 2], 95), indices([0, 1], "float64"))).toThrow(ShapeError);
  });

  it("rejects labels out of range before any arithmetic", () => {
    const net = Network.fromSpecs(specs, "float64", backend);
    const error = caught(() => net.loss(x([2, 4], 96), indices([0, 3], "float64"))) as ShapeError;
    expect(error).toBeInstanceOf(ShapeError);
    expect(error.path).toBe("t");
  });
});

describe("non-finite values", () => {
  it("name the layer that overflowed in the forward pass", () => {
    const huge = (inputs: number): LayerSpec => ({
      type: "affine",
      W: fromValues([inputs, 1], new Array(inputs).fill(1e30), "float64"),
      b: fromValues([1], [0], "float64"),
    });
    const net = Network.fromSpecs(
      [{ type: "sigmoid" }, huge(2), { type: "relu" }, huge(1)],
      "float32",
      backend,
    );
    // sigmoid gives ~1, affine gives 2e30, relu keeps it, the second affine overflows float32.
    const error = caught(() =>
      net.forward(fromValues([1, 2], [5, 5], "float32")),
    ) as NonFiniteError;
    expect(error).toBeInstanceOf(NonFiniteError);
    expect([error.layer, error.layerType, error.phase]).toEqual([3, "affine", "forward"]);
  });

  it("refuse one-hot labels that are not distributions, which alone could overflow the loss", () => {
    const net = Network.fromSpecs([{ type: "softmaxWithLoss" }], "float64", backend);
    // A soft label of 1e308 on a class of probability 0 would give 1e308·log(1e-7) = -Infinity.
    const t = fromValues([1, 2], [0, 1e308], "float64");
    const error = caught(() => net.loss(fromValues([1, 2], [0, -1000], "float64"), t));
    expect(error).toBeInstanceOf(ShapeError);
    expect((error as ShapeError).path).toBe("t");
    expect((error as ShapeError).message).toMatch(/one-hot values lie in \[0, 1\]/);
  });

  it("name the layer that overflowed in the backward pass", () => {
    const net = Network.fromSpecs(
      [affine(2, 2, 97), { type: "softmaxWithLoss" }],
      "float64",
      backend,
    );
    net.loss(fromValues([1, 2], [1e300, 1e300], "float64"), indices([0], "float64"));
    const error = caught(() => net.backward({ dloss: 1e300, needDx: false })) as NonFiniteError;
    expect(error).toBeInstanceOf(NonFiniteError);
    expect(error.phase).toBe("backward");
  });

  it("have finite outputs for finite inputs through mixed layers in both dtypes", () => {
    for (const dtype of DTYPES) {
      const net = Network.fromSpecs(
        [{ type: "sigmoid" }, affine(3, 3, 98), { type: "relu" }, { type: "softmaxWithLoss" }],
        dtype,
        backend,
      );
      const big = dtype === "float64" ? 1e308 : 1e38;
      const { out, loss } = net.loss(
        fromValues([2, 3], [big, -big, 0, -big, big, 1], dtype),
        indices([0, 2], dtype),
      );
      expect(out.data.every(Number.isFinite) && Number.isFinite(loss)).toBe(true);
    }
  });
});
