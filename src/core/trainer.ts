import type { LabelledData } from "./evaluation.js";
import type { Network } from "./network.js";
import type { Optimizer } from "./optimizers/optimizer.js";
import type { Parameter } from "./parameter.js";
import type { Rng } from "./rng.js";
import type { Tensor } from "./tensor.js";
import { addWeightDecayGrad, weightDecayLoss } from "./weight-decay.js";

export interface TrainerOptions {
  batchSize: number;
  /** λ of L2 weight decay; 0 turns it off. */
  weightDecay: number;
}

/**
 * The loop body of the book's train_neuralnet.py: a random minibatch (drawn with replacement, like
 * np.random.choice), forward with loss, backward without the unused input gradient, weight decay,
 * one optimizer update. Batch buffers are allocated once, so steps do not allocate them again;
 * the rows are gathered by index by the backend's ops, straight from the dataset's memory.
 */
export class Trainer {
  private readonly indices: Int32Array;
  private readonly x: Tensor;
  private readonly t: Tensor;
  private readonly params: readonly Parameter[];

  constructor(
    readonly network: Network,
    readonly optimizer: Optimizer,
    readonly rng: Rng,
    readonly data: LabelledData,
    readonly options: TrainerOptions,
  ) {
    const { batchSize } = options;
    this.indices = new Int32Array(batchSize);
    const { backend, dtype } = network;
    this.x = backend.zeros([batchSize, data.inputSize], dtype);
    this.t = backend.zeros([batchSize], dtype);
    this.params = network.parameters();
  }

  /** One update; returns the minibatch loss, weight decay included. */
  step(): number {
    const { data, indices, x, t, network, options } = this;
    this.rng.fillIndices(indices, data.count);
    network.backend.ops.gatherRows(data.x, indices, x.data, data.inputSize);
    const { labels } = data;
    for (let i = 0; i < indices.length; i++) t.data[i] = labels[indices[i]];
    const lambda = options.weightDecay;
    // The decay term is taken before the update, on the weights that produced this loss.
    let loss = network.lossValue(x, t);
    if (lambda > 0) loss += weightDecayLoss(this.params, lambda);
    network.backward({ dloss: 1, needDx: false });
    if (lambda > 0) addWeightDecayGrad(this.params, lambda, network.backend.ops);
    this.optimizer.step();
    return loss;
  }
}
