import { z } from "zod";
import type { Limits } from "../config.js";
import { DTYPES } from "../core/tensor.js";
import { decodeTensor, TensorFormatError, type WireTensor } from "../wire/tensor-codec.js";

export const DType = z.enum(DTYPES).meta({ description: "Arithmetic type of the request" });
export const Encoding = z
  .enum(["nested", "flat", "base64"])
  .meta({ description: "Form of the tensors in the answer; by default the form of `x`" });

const Shape = z.array(z.int().min(1)).min(1).meta({ description: "Dimensions, outermost first" });

const NestedTensor = z.array(z.unknown()).meta({
  title: "NestedTensor",
  description: "Rectangular nested arrays of finite numbers, e.g. [[0.1, 0.2], [0.3, 0.4]]",
});
const FlatTensor = z
  .strictObject({ shape: Shape, data: z.array(z.number()) })
  .meta({ title: "FlatTensor", description: "Row-major numbers with their shape" });
/**
 * A JSON string. The body parser hands long ones over as the bytes of their text (see
 * parseJsonBody), which the worker decodes as they are, so either passes here.
 */
const Base64Text = z
  .custom<string | Uint8Array>(
    (value) => typeof value === "string" || value instanceof Uint8Array,
    {
      error: "expected a string of base64",
    },
  )
  .meta({ type: "string" });
const Base64Tensor = z
  .strictObject({ shape: Shape, dtype: DType, base64: Base64Text })
  .meta({ title: "Base64Tensor", description: "Little-endian IEEE 754 bytes, base64 (RFC 4648)" });

/** The wire forms of a tensor, written in answers. */
export const TensorOut = z
  .union([NestedTensor, FlatTensor, Base64Tensor], {
    error: "expected a tensor: nested arrays, {shape, data} or {shape, dtype, base64}",
  })
  .meta({ id: "Tensor" });

/** A request tensor in any wire form, decoded to a typed tensor within `limits`. */
export function tensorIn(limits: Limits) {
  return TensorOut.transform((value, ctx) => decodeIn(value, ctx, limits));
}

/** A number, or a request tensor as tensorIn reads it (the dout of a single layer's backward). */
export function numberOrTensorIn(limits: Limits) {
  // One union over the input forms (not a union holding tensorIn's pipe), so that the document
  // shows both branches.
  return z
    .union([z.number(), TensorOut])
    .transform((value, ctx) => (typeof value === "number" ? value : decodeIn(value, ctx, limits)));
}

function decodeIn(
  value: z.output<typeof TensorOut>,
  ctx: z.core.$RefinementCtx,
  limits: Limits,
): WireTensor {
  try {
    return decodeTensor(value, limits);
  } catch (error) {
    if (!(error instanceof TensorFormatError)) throw error;
    ctx.issues.push({ code: "custom", message: error.message, input: value, path: error.path });
    return z.NEVER;
  }
}
