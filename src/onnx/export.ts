/**
 * A model as an ONNX ModelProto (IR 8, opset 13, so older runtimes load it too): input `x`
 * [N, inputSize] with a symbolic batch, output `probabilities` [N, outputSize]; one Gemm per
 * Affine, Relu / Sigmoid as they are, and Softmax(axis=-1) last, since predict gives
 * probabilities whether or not the model ends in softmaxWithLoss.
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  type GraphProto,
  GraphProtoSchema,
  ModelProtoSchema,
  type NodeProto,
  NodeProtoSchema,
  type TensorProto,
  TensorProto_DataType,
  TensorProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from "onnx-buf";
import type { LayerSpec } from "../core/layer-spec.js";
import type { DType, Tensor } from "../core/tensor.js";
import { inputOutputSizes } from "../models/summary.js";

export const IR_VERSION = 8n;
export const OPSET = 13n;
export const INPUT = "x";
export const OUTPUT = "probabilities";

export const ELEMENT_TYPE: Record<DType, TensorProto_DataType> = {
  float32: TensorProto_DataType.FLOAT,
  float64: TensorProto_DataType.DOUBLE,
};

/**
 * A tensor as an initializer: `raw_data` is a view of the parameter's own bytes (little-endian,
 * as the host's; see blob.ts), not a copy, so building the message costs next to nothing.
 */
function initializer(name: string, t: Tensor, dtype: DType): TensorProto {
  const { data } = t;
  return create(TensorProtoSchema, {
    name,
    dims: t.shape.map(BigInt),
    dataType: ELEMENT_TYPE[dtype],
    rawData: new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength),
  });
}

function valueInfo(name: string, dtype: DType, size: number | null, what: string): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: {
      value: {
        case: "tensorType",
        value: {
          elemType: ELEMENT_TYPE[dtype],
          shape: {
            dim: [
              { value: { case: "dimParam", value: "N" } },
              size === null
                ? { value: { case: "dimParam", value: what } }
                : { value: { case: "dimValue", value: BigInt(size) } },
            ],
          },
        },
      },
    },
  });
}

const intAttribute = (name: string, i: number): AttributeProto =>
  create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(i) });

export interface ExportedModel {
  name: string | null;
  dtype: DType;
  layers: readonly LayerSpec[];
}

export function toOnnxGraph(model: ExportedModel): GraphProto {
  const nodes: NodeProto[] = [];
  const initializers: TensorProto[] = [];
  let current = INPUT;
  const node = (opType: string, i: number, inputs: string[], attribute: AttributeProto[] = []) => {
    const output = `/${i}/${opType}_output_0`;
    nodes.push(
      create(NodeProtoSchema, {
        name: `/${i}/${opType}`,
        opType,
        input: inputs,
        output: [output],
        attribute,
      }),
    );
    current = output;
  };
  model.layers.forEach((layer, i) => {
    switch (layer.type) {
      case "affine": {
        // Affine's W is [inputs, outputs], Gemm's B as it is with transB = 0: Y = X·W + b.
        initializers.push(initializer(`${i}.W`, layer.W, model.dtype));
        initializers.push(initializer(`${i}.b`, layer.b, model.dtype));
        node("Gemm", i, [current, `${i}.W`, `${i}.b`]);
        break;
      }
      case "relu":
        node("Relu", i, [current]);
        break;
      case "sigmoid":
        node("Sigmoid", i, [current]);
        break;
      case "softmaxWithLoss":
        break;
    }
  });
  node("Softmax", model.layers.length, [current], [intAttribute("axis", -1)]);
  nodes[nodes.length - 1].output = [OUTPUT];
  const sizes = inputOutputSizes(model.layers);
  return create(GraphProtoSchema, {
    name: model.name ?? "model",
    node: nodes,
    initializer: initializers,
    input: [valueInfo(INPUT, model.dtype, sizes?.inputSize ?? null, "inputs")],
    output: [valueInfo(OUTPUT, model.dtype, sizes?.outputSize ?? null, "outputs")],
  });
}

function modelProto(producerVersion: string, graph?: GraphProto) {
  return create(ModelProtoSchema, {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "backprop-service",
    producerVersion,
    graph,
  });
}

/** The model's ModelProto bytes, built whole (for small models and tests). */
export function exportOnnx(model: ExportedModel, producerVersion: string): Uint8Array {
  return toBinary(ModelProtoSchema, modelProto(producerVersion, toOnnxGraph(model)));
}

/** A length-delimited field's tag and length. */
const lengthPrefix = (field: number, length: number) =>
  new BinaryWriter().tag(field, WireType.LengthDelimited).uint32(length).finish();

/** Parameter bytes per chunk of a streamed export. */
const RAW_CHUNK = 1 << 20;

export interface OnnxStream {
  /** The whole message's length in bytes. */
  byteLength: number;
  /** The message in order: a few small encoded parts, then each initializer's bytes in views. */
  chunks(): Generator<Uint8Array>;
}

/**
 * The same ModelProto as `exportOnnx` (equal once parsed; protobuf lets fields come in any
 * order), laid out so that it can be sent without building it: each message is encoded without
 * its large part (ModelProto without its graph, GraphProto without its initializers,
 * TensorProto without its raw_data), and the large part follows as a length-delimited field of
 * its own. Lengths are known up front, and the parameters are sent as views of their own bytes.
 */
export function streamOnnx(model: ExportedModel, producerVersion: string): OnnxStream {
  const graph = toOnnxGraph(model);
  const tensors = graph.initializer.map((t) => ({
    head: toBinary(
      TensorProtoSchema,
      create(TensorProtoSchema, { name: t.name, dims: t.dims, dataType: t.dataType }),
    ),
    rawPrefix: lengthPrefix(TensorProtoSchema.field.rawData.number, t.rawData.byteLength),
    raw: t.rawData,
  }));
  const initializers = tensors.map((t) => {
    const length = t.head.byteLength + t.rawPrefix.byteLength + t.raw.byteLength;
    return {
      ...t,
      prefix: lengthPrefix(GraphProtoSchema.field.initializer.number, length),
      length,
    };
  });
  const { name, node, input, output } = graph;
  const graphHead = toBinary(
    GraphProtoSchema,
    create(GraphProtoSchema, { name, node, input, output }),
  );
  const graphLength = initializers.reduce(
    (sum, t) => sum + t.prefix.byteLength + t.length,
    graphHead.byteLength,
  );
  // Without a graph, the ModelProto's other fields; its graph follows as field 7 in full.
  const head = toBinary(ModelProtoSchema, modelProto(producerVersion));
  const graphField = ModelProtoSchema.field.graph.number;
  const graphPrefix = lengthPrefix(graphField, graphLength);
  return {
    byteLength: head.byteLength + graphPrefix.byteLength + graphLength,
    *chunks() {
      yield head;
      yield graphPrefix;
      yield graphHead;
      for (const t of initializers) {
        yield t.prefix;
        yield t.head;
        yield t.rawPrefix;
        for (let at = 0; at < t.raw.byteLength; at += RAW_CHUNK) {
          yield t.raw.subarray(at, Math.min(t.raw.byteLength, at + RAW_CHUNK));
        }
      }
    },
  };
}
