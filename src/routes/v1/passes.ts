import type { FastifyInstance, FastifyReply } from "fastify";
import type { z } from "zod";
import type { DType } from "../../core/tensor.js";
import { sendJsonBytes } from "../../http/json-bytes.js";
import type { ComputeTask, Grads } from "../../pool/tasks.js";
import { computeProblems } from "../../schemas/problem.js";
import type { PackedBase64Tensor, PassTensor } from "../../wire/base64.js";
import {
  type EncodedTensor,
  encodeTensor,
  type TensorEncoding,
  type WireTensor,
} from "../../wire/tensor-codec.js";

/** What every forward and backward body holds besides its layers. */
interface PassBody {
  x: WireTensor;
  t?: WireTensor;
  dtype: DType;
  outputEncoding?: TensorEncoding;
}

type BackwardBody = PassBody & { dout?: WireTensor | number };

type AnswerTensor = EncodedTensor | PackedBase64Tensor;
type EncodedGrads = ({ W: AnswerTensor; b: AnswerTensor } | null)[];

interface Pass<Body> {
  summary: string;
  body: z.ZodType<Body>;
  response: z.ZodType;
}

/**
 * The forward and backward routes of one resource (/v1/layers, /v1/networks), which differ only
 * in how a body names its layers, what a backward body must hold besides what its schema states,
 * and how the gradients are answered.
 */
export interface PassRoutes<F extends PassBody, B extends BackwardBody> {
  resource: "layers" | "networks";
  /** What operationIds start with: `layer` gives layerForward and layerBackward. */
  operation: "layer" | "network";
  forward: Pass<F>;
  backward: Pass<B>;
  /** The task's layers, and how its errors name them. */
  layers(body: F | B): Pick<ComputeTask, "layers" | "layerPath">;
  /** Throws the 400 of a backward body that its schema accepts but the pass cannot run. */
  checkBackward(body: B): void;
  /** The answer's `grads`, from {W, b} per layer (null for one without parameters). */
  grads(grads: EncodedGrads): unknown;
}

/**
 * Registers POST /v1/{resource}/forward and /backward: one pool task each, its tensors answered
 * in the body's `outputEncoding` (by default the encoding of its `x`). A base64 answer is encoded
 * by the worker into bytes and sent as bytes (jsonBytes): its text never becomes a string here.
 */
export function passRoutes<F extends PassBody, B extends BackwardBody>(
  app: FastifyInstance,
  spec: PassRoutes<F, B>,
): void {
  // The schema below has validated the body into F (or B), as for any route; the cast only says
  // so, because Fastify's request types do not resolve through a generic schema.
  app.post(
    `/v1/${spec.resource}/forward`,
    {
      schema: {
        summary: spec.forward.summary,
        operationId: `${spec.operation}Forward`,
        tags: [spec.resource],
        body: spec.forward.body,
        response: { 200: spec.forward.response, ...computeProblems },
      },
    },
    async (request, reply) => {
      const body = request.body as F;
      const { x, t, dtype, outputEncoding = x.encoding } = body;
      const result = await app.compute(reply, "forward", {
        dtype,
        ...spec.layers(body),
        x,
        t,
        encoding: taskEncoding(outputEncoding),
      });
      return answer(reply, outputEncoding, {
        out: encodeTensor(result.out, outputEncoding),
        loss: result.loss,
      });
    },
  );

  app.post(
    `/v1/${spec.resource}/backward`,
    {
      schema: {
        summary: spec.backward.summary,
        operationId: `${spec.operation}Backward`,
        tags: [spec.resource],
        body: spec.backward.body,
        response: { 200: spec.backward.response, ...computeProblems },
      },
    },
    async (request, reply) => {
      const body = request.body as B;
      const { x, t, dout, dtype, outputEncoding = x.encoding } = body;
      spec.checkBackward(body);
      const result = await app.compute(reply, "backward", {
        dtype,
        ...spec.layers(body),
        x,
        t,
        dout,
        encoding: taskEncoding(outputEncoding),
      });
      const encode = (tensor: PassTensor) => encodeTensor(tensor, outputEncoding);
      return answer(reply, outputEncoding, {
        loss: result.loss,
        out: encode(result.out),
        dx: encode(result.dx),
        grads: spec.grads(encodeGrads(result.grads, encode)),
      });
    },
  );
}

/** What the worker encodes: base64 as bytes, for `answer` to send as they are. */
const taskEncoding = (encoding: TensorEncoding) =>
  encoding === "base64" ? "base64Bytes" : encoding;

/** The answer, sent as bytes when its tensors are base64 bytes, else returned for Fastify. */
function answer<T>(reply: FastifyReply, encoding: TensorEncoding, value: T) {
  return encoding === "base64" ? sendJsonBytes(reply, value) : value;
}

function encodeGrads(grads: Grads, encode: (t: PassTensor) => AnswerTensor): EncodedGrads {
  return grads.map((g) => (g ? { W: encode(g.W), b: encode(g.b) } : null));
}
