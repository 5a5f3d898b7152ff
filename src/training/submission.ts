import { ShapeError } from "../core/errors.js";
import { checkLabelValues } from "../core/layers/softmax-with-loss.js";
import type { Tensor } from "../core/tensor.js";
import { listDatasets } from "../datasets/catalog.js";
import type { DataRef } from "../pool/training-tasks.js";

/** A training request that cannot work with its model; `path` names the field. */
export class SubmissionError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

export interface DataInfo {
  count: number;
  inputSize: number;
}

/** Sample count and input size of a data reference, checking inline labels against `classes`. */
export function describeData(ref: DataRef, path: string, classes: number): DataInfo {
  if ("dataset" in ref) {
    const { name, split, limit } = ref.dataset;
    const info = listDatasets().find((d) => d.name === name);
    if (!info) throw new SubmissionError(`${path}.dataset.name`, `unknown dataset "${name}"`);
    if (info.classes !== classes) {
      throw new SubmissionError(
        `${path}.dataset`,
        `${name} has ${info.classes} classes but the model has outputSize ${classes}`,
      );
    }
    const size = info.splits[split as keyof typeof info.splits];
    // A limit past the split is refused, not clamped: the caller asked for samples that are not there.
    if (limit !== undefined && limit > size) {
      throw new SubmissionError(
        `${path}.dataset.limit`,
        `the ${split} split of ${name} has ${size} samples; limit must be at most ${size}`,
      );
    }
    return { count: limit ?? size, inputSize: info.inputSize };
  }
  const { x, t } = ref;
  if (x.shape.length < 2)
    throw new SubmissionError(`${path}.x`, "needs a batch axis: shape [N, inputs...]");
  const count = x.shape[0];
  const inputSize = x.data.length / count;
  checkLabels(t, count, classes, `${path}.t`);
  return { count, inputSize };
}

/** A batch drawn from fewer samples than its size would repeat samples within one step. */
export function checkBatchSize(batchSize: number, samples: number): void {
  if (batchSize > samples) {
    throw new SubmissionError(
      "batchSize",
      `is ${batchSize} but the training data holds ${samples} samples; batchSize must be at most ${samples}`,
    );
  }
}

/** One-hot training labels must be distributions, as the loss reads them (see checkLabelValues). */
function checkOneHotValues(t: Tensor, path: string): void {
  try {
    checkLabelValues(t, "oneHot", t.shape[1]);
  } catch (error) {
    if (error instanceof ShapeError) throw new SubmissionError(path, error.detail);
    throw error;
  }
}

function checkLabels(t: Tensor, count: number, classes: number, path: string): void {
  if (t.shape[0] !== count) {
    throw new SubmissionError(path, `holds ${t.shape[0]} labels but x holds ${count} samples`);
  }
  if (t.shape.length === 2) {
    if (t.shape[1] !== classes) {
      throw new SubmissionError(
        path,
        `one-hot labels have ${t.shape[1]} classes but the model has ${classes}`,
      );
    }
    checkOneHotValues(t, path);
    return;
  }
  if (t.shape.length !== 1)
    throw new SubmissionError(path, "expected class indices [N] or one-hot [N, classes]");
  const bad = t.data.findIndex((v) => !Number.isInteger(v) || v < 0 || v >= classes);
  if (bad !== -1) {
    throw new SubmissionError(
      `${path}[${bad}]`,
      `label ${t.data[bad]} is not a class index in [0, ${classes})`,
    );
  }
}
