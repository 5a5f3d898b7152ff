/**
 * A model from an ONNX ModelProto, for the subset a chain of Affine / ReLU / Sigmoid / Softmax
 * layers can hold: Gemm (transB 0 or 1, alpha, beta), MatMul followed by Add, Relu, Sigmoid,
 * Softmax over the last axis, and Flatten and Identity, which Affine's own flattening makes no-ops.
 * That covers what torch.onnx.export writes for nn.Sequential(Linear, ReLU, Linear, ...): Gemm
 * with transB = 1 over `0.weight` [out, in]. Anything else is refused, naming the node and its op.
 */
import { fromBinary } from "@bufbuild/protobuf";
import {
  type AttributeProto,
  type ModelProto,
  ModelProtoSchema,
  type NodeProto,
  type TensorProto,
  TensorProto_DataLocation,
  TensorProto_DataType,
} from "onnx-buf";
import type { LayerSpec } from "../core/layer-spec.js";
import type { DType, FloatArray, Tensor } from "../core/tensor.js";

/** What is wrong with the file; `path` names the part of the ModelProto, such as a node. */
export class OnnxImportError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ImportedModel {
  dtype: DType;
  layers: LayerSpec[];
}

const SUPPORTED = "Gemm, MatMul + Add, Relu, Sigmoid, Softmax, Flatten, Identity";

interface Initializer {
  dims: number[];
  data: FloatArray;
  dtype: DType;
}

export function importOnnx(bytes: Uint8Array): ImportedModel {
  let model: ModelProto;
  try {
    model = fromBinary(ModelProtoSchema, bytes);
  } catch (error) {
    throw new OnnxImportError("", `is not an ONNX ModelProto: ${(error as Error).message}`);
  }
  const graph = model.graph;
  if (!graph || graph.node.length === 0) throw new OnnxImportError("graph", "has no nodes");
  const initializers = new Map<string, Initializer>();
  graph.initializer.forEach((t, i) => {
    initializers.set(t.name, readInitializer(t, `graph.initializer[${i}]`));
  });
  const dtypes = new Set([...initializers.values()].map((t) => t.dtype));
  if (dtypes.size > 1) {
    throw new OnnxImportError("graph.initializer", "mixes float and double initializers");
  }
  const dtype: DType = dtypes.has("float64") ? "float64" : "float32";

  // Older IR versions list the initializers among the inputs too.
  const inputs = graph.input.filter((v) => !initializers.has(v.name));
  if (inputs.length !== 1) {
    throw new OnnxImportError("graph.input", `needs one data input, has ${inputs.length}`);
  }
  if (graph.output.length !== 1) {
    throw new OnnxImportError("graph.output", `needs one output, has ${graph.output.length}`);
  }

  const layers: LayerSpec[] = [];
  let current = inputs[0].name;
  // A MatMul's layer, waiting for the Add that gives its bias.
  let pendingBias: { layer: number; output: string } | null = null;
  graph.node.forEach((node, i) => {
    const at = new NodeContext(node, i, initializers);
    if (node.domain !== "" && node.domain !== "ai.onnx") {
      throw at.error(
        `is in domain ${JSON.stringify(node.domain)}; only the default domain is supported`,
      );
    }
    const data = at.dataInput(current);
    if (node.opType !== "Add") pendingBias = null;
    switch (node.opType) {
      case "Identity":
        break;
      case "Flatten": {
        if (at.int("axis", 1) !== 1) throw at.error("flattens at an axis other than 1");
        break;
      }
      case "Relu":
        layers.push({ type: "relu" });
        break;
      case "Sigmoid":
        layers.push({ type: "sigmoid" });
        break;
      case "Softmax": {
        const axis = at.int("axis", -1);
        if (axis !== -1 && axis !== 1) throw at.error(`is over axis ${axis}, not the last one`);
        if (i !== graph.node.length - 1) throw at.error("is not the last node");
        layers.push({ type: "softmaxWithLoss" });
        break;
      }
      case "Gemm":
        layers.push(gemm(at, data, dtype, layers));
        break;
      case "MatMul": {
        const W = at.weight(1);
        checkInputs(at, W.dims[0], layers);
        layers.push({ type: "affine", W: tensor(W.dims, W.data), b: zeros([W.dims[1]], dtype) });
        pendingBias = { layer: layers.length - 1, output: node.output[0] };
        break;
      }
      case "Add": {
        const pending = pendingBias as { layer: number; output: string } | null;
        if (!pending || pending.output !== current) {
          throw at.error("is supported only as the bias after a MatMul");
        }
        const bias = at.weight(data === 0 ? 1 : 0);
        const affine = layers[pending.layer] as Extract<LayerSpec, { type: "affine" }>;
        const outputs = affine.W.shape[1];
        if (
          bias.data.length !== outputs ||
          bias.dims.some((d, k) => d !== 1 && k !== bias.dims.length - 1)
        ) {
          throw at.error(`adds a [${bias.dims.join(", ")}] bias to ${outputs} outputs`);
        }
        layers[pending.layer] = { ...affine, b: tensor([outputs], bias.data) };
        pendingBias = null;
        break;
      }
      default:
        throw at.error(`is not supported; supported: ${SUPPORTED}`);
    }
    if (node.output.length !== 1) throw at.error(`has ${node.output.length} outputs, not 1`);
    current = node.output[0];
  });
  // A graph that ends in scores (as torch.onnx.export writes a classifier without its softmax)
  // becomes a model that ends in softmaxWithLoss, as every model here does: predict gives the
  // same probabilities (it takes the softmax of scores), and evaluate and training can use it.
  if (layers[layers.length - 1]?.type !== "softmaxWithLoss")
    layers.push({ type: "softmaxWithLoss" });
  if (current !== graph.output[0].name) {
    throw new OnnxImportError("graph.output", "is not the output of the last node");
  }
  if (!layers.some((l) => l.type === "affine")) {
    throw new OnnxImportError("graph", "has no Gemm or MatMul: nothing to learn");
  }
  return { dtype, layers };
}

/** One node, with what its checks need to name it. */
class NodeContext {
  constructor(
    readonly node: NodeProto,
    readonly index: number,
    private readonly initializers: Map<string, Initializer>,
  ) {}

  error(message: string): OnnxImportError {
    const { name, opType } = this.node;
    return new OnnxImportError(
      `graph.node[${this.index}]`,
      `node ${JSON.stringify(name || `#${this.index}`)} (op ${opType}) ${message}`,
    );
  }

  /** The index of the input that carries the data, which must be the previous node's output. */
  dataInput(current: string): number {
    const data = this.node.input.indexOf(current);
    if (data === -1) {
      throw this.error(`does not take ${JSON.stringify(current)}: the graph must be a chain`);
    }
    const others = this.node.input.filter((name, k) => k !== data && name !== "");
    const stray = others.find((name) => !this.initializers.has(name));
    if (stray !== undefined) {
      throw this.error(
        `takes ${JSON.stringify(stray)}, which is neither the data nor an initializer`,
      );
    }
    return data;
  }

  weight(k: number): Initializer {
    const name = this.node.input[k];
    const found = name === undefined ? undefined : this.initializers.get(name);
    if (!found) throw this.error(`needs input ${k} to be an initializer`);
    return found;
  }

  optionalWeight(k: number): Initializer | null {
    const name = this.node.input[k];
    return name === undefined || name === "" ? null : this.weight(k);
  }

  private attribute(name: string): AttributeProto | undefined {
    return this.node.attribute.find((a) => a.name === name);
  }

  int(name: string, fallback: number): number {
    const a = this.attribute(name);
    return a === undefined ? fallback : Number(a.i);
  }

  float(name: string, fallback: number): number {
    const a = this.attribute(name);
    return a === undefined ? fallback : a.f;
  }
}

/** Gemm: Y = alpha·A·op(B) + beta·C, an Affine with W = alpha·op(B) and b = beta·C. */
function gemm(at: NodeContext, data: number, dtype: DType, layers: LayerSpec[]): LayerSpec {
  if (data !== 0) throw at.error("takes the data as B; only A = data is supported");
  if (at.int("transA", 0) !== 0) throw at.error("has transA = 1; only transA = 0 is supported");
  const transB = at.int("transB", 0);
  if (transB !== 0 && transB !== 1) throw at.error(`has transB = ${transB}`);
  const alpha = at.float("alpha", 1);
  const beta = at.float("beta", 1);
  const B = at.weight(1);
  if (B.dims.length !== 2) throw at.error(`has a B of shape [${B.dims.join(", ")}], not 2-D`);
  const [inputs, outputs] = transB === 1 ? [B.dims[1], B.dims[0]] : [B.dims[0], B.dims[1]];
  checkInputs(at, inputs, layers);
  const W = transB === 1 ? transposed(B.data, B.dims[0], B.dims[1]) : B.data.slice();
  if (alpha !== 1) for (let k = 0; k < W.length; k++) W[k] *= alpha;
  const C = at.optionalWeight(2);
  const b = zeros([outputs], dtype);
  if (C) {
    const scalar = C.data.length === 1;
    if (
      !scalar &&
      (C.data.length !== outputs || C.dims.some((d, k) => d !== 1 && k !== C.dims.length - 1))
    ) {
      throw at.error(
        `has a C of shape [${C.dims.join(", ")}] for ${outputs} outputs; only [${outputs}] or [1, ${outputs}] broadcast per row`,
      );
    }
    for (let k = 0; k < outputs; k++) b.data[k] = beta * C.data[scalar ? 0 : k];
  }
  return { type: "affine", W: tensor([inputs, outputs], W), b };
}

/** The inputs of an Affine must be the outputs of the one before it. */
function checkInputs(at: NodeContext, inputs: number, layers: LayerSpec[]) {
  const previous = layers.findLast((l) => l.type === "affine");
  if (previous && previous.type === "affine" && previous.W.shape[1] !== inputs) {
    throw at.error(`takes ${inputs} inputs, but the layer before it gives ${previous.W.shape[1]}`);
  }
}

function transposed(data: FloatArray, rows: number, cols: number): FloatArray {
  const out = new (data.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(
    data.length,
  );
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  }
  return out;
}

const tensor = (shape: number[], data: FloatArray): Tensor => ({ shape, data });

const zeros = (shape: number[], dtype: DType): Tensor => ({
  shape,
  data: dtype === "float32" ? new Float32Array(shape[0]) : new Float64Array(shape[0]),
});

/** An initializer's values, from raw_data (little-endian) or float_data / double_data. */
function readInitializer(t: TensorProto, path: string): Initializer {
  const name = JSON.stringify(t.name);
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    throw new OnnxImportError(path, `initializer ${name} keeps its data in an external file`);
  }
  const dims = t.dims.map(Number);
  const size = dims.reduce((n, d) => n * d, 1);
  let data: FloatArray;
  let dtype: DType;
  if (t.dataType === TensorProto_DataType.FLOAT) {
    dtype = "float32";
    data = t.rawData.length > 0 ? fromRaw(t.rawData, Float32Array) : Float32Array.from(t.floatData);
  } else if (t.dataType === TensorProto_DataType.DOUBLE) {
    dtype = "float64";
    data =
      t.rawData.length > 0 ? fromRaw(t.rawData, Float64Array) : Float64Array.from(t.doubleData);
  } else {
    const type = TensorProto_DataType[t.dataType] ?? String(t.dataType);
    throw new OnnxImportError(
      path,
      `initializer ${name} is ${type}; only FLOAT and DOUBLE are supported`,
    );
  }
  if (data.length !== size) {
    throw new OnnxImportError(
      path,
      `initializer ${name} holds ${data.length} values for shape [${dims.join(", ")}]`,
    );
  }
  for (let k = 0; k < data.length; k++) {
    if (!Number.isFinite(data[k])) {
      throw new OnnxImportError(path, `initializer ${name} holds ${data[k]} at ${k}`);
    }
  }
  return { dims, data, dtype };
}

/**
 * raw_data as values: a copy into a buffer of their own, whatever the bytes' alignment (a length
 * that is not whole values gives none, which the size check then names).
 */
function fromRaw(
  raw: Uint8Array,
  Type: Float32ArrayConstructor | Float64ArrayConstructor,
): FloatArray {
  if (raw.byteLength % Type.BYTES_PER_ELEMENT !== 0) return new Type(0);
  const out = new Type(raw.byteLength / Type.BYTES_PER_ELEMENT);
  new Uint8Array(out.buffer).set(raw);
  return out;
}
