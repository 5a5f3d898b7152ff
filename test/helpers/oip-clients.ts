/**
 * The requests tritonclient.http and KServe's InferenceRESTClient put on the wire, and the way
 * each reads the answer, as their sources do it (tritonclient/http/_client.py, _utils.py,
 * _infer_input.py, _infer_result.py; kserve/inference_client.py, protocol/infer_type.py): their
 * package registry is not reachable here, so the bytes are replayed over node:http, which sends
 * no header it is not given except Host and Connection.
 */
import { request } from "node:http";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function send(
  base: string,
  method: "GET" | "POST",
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const all = body ? { ...headers, "Content-Length": String(body.length) } : headers;
    const req = request(`${base}${path}`, { method, headers: all }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

export type Datatype = "FP32" | "FP64" | "INT64" | "UINT8" | "INT32";

/** numpy's tobytes() of a C-contiguous array: its little-endian bytes in row-major order. */
export const tobytes = (values: ArrayBufferView) =>
  Buffer.from(values.buffer, values.byteOffset, values.byteLength);

/** An InferInput after set_data_from_numpy(array, binary_data). */
export interface ClientInput {
  name: string;
  shape: number[];
  datatype: Datatype;
  /** Values as numpy's .item() gives them (float32 widened to a double). */
  values: ArrayLike<number | bigint> & ArrayBufferView;
  binary: boolean;
}

function inputTensor(input: ClientInput): Record<string, unknown> {
  const tensor: Record<string, unknown> = {
    name: input.name,
    shape: input.shape,
    datatype: input.datatype,
  };
  if (input.binary) tensor.parameters = { binary_data_size: input.values.byteLength };
  else tensor.data = Array.from(input.values as ArrayLike<number>, Number);
  return tensor;
}

/**
 * tritonclient.http InferenceServerClient.infer: rapidjson's compact JSON of {id?, inputs,
 * outputs?, parameters?}; no outputs means `binary_data_output: true`; binary inputs follow the
 * JSON, whose length goes in Inference-Header-Content-Length. No Content-Type at all.
 */
export function tritonInfer(
  inputs: ClientInput[],
  options: { id?: string; outputs?: { name: string; binary_data: boolean }[] } = {},
) {
  const request: Record<string, unknown> = {};
  const parameters: Record<string, unknown> = {};
  if (options.id) request.id = options.id;
  request.inputs = inputs.map(inputTensor);
  if (options.outputs) {
    request.outputs = options.outputs.map((o) => ({
      name: o.name,
      parameters: { binary_data: o.binary_data },
    }));
  } else {
    parameters.binary_data_output = true;
  }
  if (Object.keys(parameters).length > 0) request.parameters = parameters;
  const json = Buffer.from(JSON.stringify(request));
  const binary = inputs.filter((i) => i.binary).map((i) => tobytes(i.values));
  const headers: Record<string, string> = { "User-Agent": "python/gevent-http-client-2.3.1" };
  if (binary.length === 0) return { headers, body: json };
  headers["Inference-Header-Content-Length"] = String(json.length);
  return { headers, body: Buffer.concat([json, ...binary]) };
}

/** tritonclient's InferResult: the JSON header, then each binary output at its running offset. */
export function tritonResult(res: RawResponse) {
  const length = res.headers["inference-header-content-length"];
  const headerLength = length === undefined ? res.body.length : Number(length);
  const result = JSON.parse(res.body.subarray(0, headerLength).toString("utf8"));
  const buffer = res.body.subarray(headerLength);
  const offsets = new Map<string, number>();
  let index = 0;
  for (const output of result.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size !== undefined) {
      offsets.set(output.name, index);
      index += size;
    }
  }
  /** as_numpy(name): np.frombuffer for binary outputs, np.array(data, dtype) for JSON ones. */
  const asNumpy = (name: string) => {
    const output = result.outputs.find((o: { name: string }) => o.name === name);
    if (!output) return null;
    const Type = ARRAYS[output.datatype as Datatype];
    const size = output.parameters?.binary_data_size;
    if (size !== undefined) {
      const start = offsets.get(name) as number;
      const copy = new Uint8Array(buffer.subarray(start, start + size));
      return { shape: output.shape as number[], values: new Type(copy.buffer) };
    }
    const values =
      Type === BigInt64Array
        ? BigInt64Array.from(output.data as number[], (v) => BigInt(v))
        : (Type as Float32ArrayConstructor).from(output.data as number[]);
    return { shape: output.shape as number[], values };
  };
  return { result, asNumpy };
}

const ARRAYS = {
  FP32: Float32Array,
  FP64: Float64Array,
  INT64: BigInt64Array,
  UINT8: Uint8Array,
  INT32: Int32Array,
} as const;

/** A Triton error as _get_error reads it: `json.loads(body)["error"]`. */
export const tritonError = (res: RawResponse): string => JSON.parse(res.body.toString()).error;

/**
 * KServe InferenceRESTClient.infer with an InferRequest: to_rest gives {id, model_name, inputs,
 * outputs?, parameters?} (orjson, compact); with binary inputs the bytes follow, the JSON length
 * goes in inference-header-content-length and the content type is application/octet-stream,
 * otherwise it is application/json. httpx adds its usual headers.
 */
export function kserveInfer(
  modelName: string,
  inputs: ClientInput[],
  options: { id: string; outputs?: { name: string; binary_data?: boolean }[] },
) {
  const res: Record<string, unknown> = {
    id: options.id,
    model_name: modelName,
    inputs: inputs.map(inputTensor),
  };
  if (options.outputs) {
    res.outputs = options.outputs.map((o) =>
      o.binary_data === undefined
        ? { name: o.name }
        : { name: o.name, parameters: { binary_data: o.binary_data } },
    );
  }
  const json = Buffer.from(JSON.stringify(res));
  const binary = inputs.filter((i) => i.binary).map((i) => tobytes(i.values));
  const headers: Record<string, string> = {
    Accept: "*/*",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "python-httpx/0.27.0",
  };
  if (binary.length === 0) {
    return { headers: { ...headers, "content-type": "application/json" }, body: json };
  }
  return {
    headers: {
      ...headers,
      "inference-header-content-length": String(json.length),
      "content-type": "application/octet-stream",
    },
    body: Buffer.concat([json, ...binary]),
  };
}

/**
 * InferResponse.from_bytes: the JSON up to the header's length (the whole body without it);
 * `model_name` must be there; binary outputs are read in order after the JSON.
 */
export function kserveResponse(res: RawResponse) {
  const length = Number(res.headers["inference-header-content-length"] ?? res.body.length);
  const dict = JSON.parse(res.body.subarray(0, length).toString("utf8"));
  if (!("model_name" in dict)) throw new Error("KServe's client needs model_name");
  let start = length;
  const outputs = dict.outputs.map(
    (o: {
      name: string;
      datatype: Datatype;
      shape: number[];
      parameters?: { binary_data_size?: number };
      data?: number[];
    }) => {
      const size = o.parameters?.binary_data_size;
      if (size === undefined) return { ...o, values: o.data };
      const copy = new Uint8Array(res.body.subarray(start, start + size));
      start += size;
      const values = Array.from(
        new ARRAYS[o.datatype](copy.buffer) as ArrayLike<number | bigint>,
        Number,
      );
      return { ...o, values };
    },
  );
  return { id: dict.id as string | undefined, modelName: dict.model_name as string, outputs };
}

/**
 * _construct_http_status_error: reads `error` only when content-type equals application/json,
 * exactly; otherwise the message has none.
 */
export function kserveError(res: RawResponse): string {
  if (res.headers["content-type"] !== "application/json") return "";
  const body = JSON.parse(res.body.toString());
  return "error" in body ? body.error : body;
}
