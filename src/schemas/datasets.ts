import { z } from "zod";
import { Encoding, TensorOut } from "./tensor.js";

/** The most samples one call returns: 1000 nested MNIST rows are about 3 MB of JSON. */
export const MAX_SAMPLES_PER_CALL = 1000;

const count = (what: string, min: number, max?: number) => {
  const bounds = max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
  const message = `${what} must be an integer ${bounds}`;
  let n = z.int({ error: message }).min(min, { error: message });
  if (max !== undefined) n = n.max(max, { error: message });
  // Query values arrive as text: "12" is 12, anything else (including "") is refused by `n`.
  return z.preprocess((v) => (typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v), n);
};

export const SamplesParams = z.strictObject({ name: z.string().min(1).max(100) });

export const SamplesQuery = z.strictObject({
  split: z.enum(["train", "test"], { error: "split must be train or test" }),
  offset: count("offset", 0)
    .default(0)
    .meta({ description: "Index of the first sample (default 0)" }),
  limit: count("limit", 1, MAX_SAMPLES_PER_CALL)
    .default(10)
    .meta({ description: "How many samples (default 10); offset + limit must fit the split" }),
  encoding: Encoding.default("nested").meta({ description: "Form of `x` (nested by default)" }),
});

export const SamplesResponse = z
  .object({
    dataset: z.string(),
    split: z.enum(["train", "test"]),
    offset: z.int(),
    count: z.int().meta({ description: "Samples in this answer" }),
    total: z.int().meta({ description: "Samples in the split" }),
    x: TensorOut.meta({ description: "[count, inputSize] inputs, in the encoding asked for" }),
    labels: z
      .array(z.int())
      .meta({ description: "Class index of each sample; accepted as `t` by evaluate" }),
  })
  .meta({ id: "DatasetSamples" });
