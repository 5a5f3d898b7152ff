/**
 * An inference request of the Open Inference Protocol, read into the compute pool's predict task,
 * and its result written back: JSON outputs, or binary ones after the JSON header.
 */
import type { Limits } from "../../config.js";
import type { FloatArray, Tensor } from "../../core/tensor.js";
import { validationFailed } from "../../http/problem.js";
import type { PredictResult } from "../../pool/tasks.js";
import type { InferRequest } from "../../schemas/v2.js";
import { shortestFloat32 } from "../../wire/tensor-codec.js";
import { decodeInput } from "./tensors.js";

export const OUTPUTS = ["probabilities", "labels"] as const;
type OutputName = (typeof OUTPUTS)[number];

const invalid = (path: string, message: string) => validationFailed([{ path, message }]);

export interface Requested {
  name: OutputName;
  binary: boolean;
}

/** The model's one input `x`, as a tensor; binary inputs take their bytes from `binary` in order. */
export function readInput(
  body: InferRequest,
  binary: Uint8Array | null,
  inputSize: number | null,
  limits: Limits,
): Tensor {
  let offset = 0;
  const available = binary?.byteLength ?? 0;
  const sources = body.inputs.map((input, i) => {
    const path = `inputs[${i}]`;
    const size = input.parameters?.binary_data_size;
    if (size === undefined) return { ...input, path };
    if (!Number.isSafeInteger(size) || (size as number) < 0) {
      throw invalid(`${path}.parameters.binary_data_size`, "expected a byte count");
    }
    if (input.data !== undefined) {
      throw invalid(`${path}.data`, "give data or parameters.binary_data_size, not both");
    }
    const end = offset + (size as number);
    if (!binary || end > available) {
      throw invalid(
        `${path}.parameters.binary_data_size`,
        `needs bytes ${offset} to ${end} of the binary data after the JSON header, which holds ${available}`,
      );
    }
    const bytes = binary.subarray(offset, end);
    offset = end;
    return { ...input, path, bytes };
  });
  if (offset !== available) {
    throw invalid(
      "inputs",
      `the binary data after the JSON header holds ${available} bytes, but the inputs' binary_data_size add up to ${offset}`,
    );
  }
  const x = sources.findIndex((s) => s.name === "x");
  if (sources.length !== 1 || x === -1) {
    const names = sources.map((s) => JSON.stringify(s.name)).join(", ");
    throw invalid("inputs", `the model has one input, "x"; the request gives ${names}`);
  }
  const input = sources[x];
  const { shape } = input;
  if (shape.length !== 2 || (inputSize !== null && shape[1] !== inputSize)) {
    throw invalid(
      `${input.path}.shape`,
      `is [${shape.join(", ")}]; the model takes [-1, ${inputSize ?? -1}]`,
    );
  }
  return decodeInput(input, limits);
}

/** The outputs asked for (all, by default), each JSON or binary as its parameters say. */
export function requestedOutputs(body: InferRequest): Requested[] {
  const all = flag(body.parameters?.binary_data_output, "parameters.binary_data_output") ?? false;
  if (!body.outputs) return OUTPUTS.map((name) => ({ name, binary: all }));
  return body.outputs.map((output, i) => {
    const path = `outputs[${i}]`;
    if (!(OUTPUTS as readonly string[]).includes(output.name)) {
      throw invalid(
        `${path}.name`,
        `${JSON.stringify(output.name)} is not an output of the model: probabilities or labels`,
      );
    }
    if (output.parameters?.classification !== undefined) {
      throw invalid(
        `${path}.parameters.classification`,
        "the classification extension is not supported",
      );
    }
    const binary = flag(output.parameters?.binary_data, `${path}.parameters.binary_data`) ?? all;
    return { name: output.name as OutputName, binary };
  });
}

function flag(value: unknown, path: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw invalid(path, "expected true or false");
}

interface OutputTensor {
  datatype: "FP32" | "FP64" | "INT64";
  shape: number[];
  values: FloatArray | BigInt64Array;
}

function outputTensor(name: OutputName, result: PredictResult): OutputTensor {
  const probabilities = result.probabilities as Tensor;
  if (name === "probabilities") {
    const datatype = probabilities.data instanceof Float32Array ? "FP32" : "FP64";
    return { datatype, shape: [...probabilities.shape], values: probabilities.data };
  }
  const labels = Array.isArray(result.labels) ? result.labels : [result.labels];
  return {
    datatype: "INT64",
    shape: [labels.length],
    values: BigInt64Array.from(labels, (label) => BigInt(label)),
  };
}

function jsonValues(values: FloatArray | BigInt64Array): number[] {
  const out = new Array<number>(values.length);
  if (values instanceof Float32Array) {
    for (let i = 0; i < values.length; i++) out[i] = shortestFloat32(values[i]);
  } else if (values instanceof BigInt64Array) {
    for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  } else {
    for (let i = 0; i < values.length; i++) out[i] = values[i];
  }
  return out;
}

export interface InferAnswer {
  /** The JSON response, or its header when `binary` holds bytes. */
  json: {
    model_name: string;
    model_version: string;
    id?: string;
    parameters?: Record<string, unknown>;
    outputs: {
      name: string;
      datatype: OutputTensor["datatype"];
      shape: number[];
      parameters?: { binary_data_size: number };
      data?: number[];
    }[];
  };
  /** The binary outputs' bytes, in the order of the outputs. */
  binary: Uint8Array[];
}

/** The response: each output's values in JSON, or its raw little-endian bytes after the JSON. */
export function inferAnswer(
  body: InferRequest,
  model: { name: string; version: string },
  requested: Requested[],
  result: PredictResult,
): InferAnswer {
  const binary: Uint8Array[] = [];
  const outputs = requested.map(({ name, binary: asBytes }) => {
    const { datatype, shape, values } = outputTensor(name, result);
    if (!asBytes) return { name, datatype, shape, data: jsonValues(values) };
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    binary.push(bytes);
    return { name, datatype, shape, parameters: { binary_data_size: bytes.byteLength } };
  });
  return {
    json: {
      model_name: model.name,
      model_version: model.version,
      ...(body.id === undefined ? {} : { id: body.id }),
      ...(body.parameters === undefined ? {} : { parameters: body.parameters }),
      outputs,
    },
    binary,
  };
}
