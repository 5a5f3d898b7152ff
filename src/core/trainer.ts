import type { LabelledData } from "./evaluation.js";
import type { Network } from "./network.js";
import type { Optimizer } from "./optimizers/optimizer.js";
import type { Parameter } from "./parameter.js";
import type { Rng, RngState } from "./rng.js";
import type { Tensor } from "./tensor.js";
import { addWeightDecayGrad, weightDecayLoss } from "./weight-decay.js";

export interface TrainerOptions {
  batchSize: number;
  /** λ of L2 weight decay; 0 turns it off. */
  weightDecay: number;
}

/** A minibatch buffer: the rows drawn for it and their values. */
interface Batch {
  readonly indices: Int32Array;
  readonly x: Tensor;
}

/**
 * The loop body of the book's train_neuralnet.py: a random minibatch (drawn with replacement, like
 * np.random.choice), forward with loss, backward without the unused input gradient, weight decay,
 * one optimizer update. The rows are gathered by index by the backend's ops, straight from the
 * dataset's memory, into one of two batch buffers allocated once: each step draws the next
 * minibatch and has it gathered ahead (on another core, where the ops can) while it computes on
 * the one before. The draws are the same as gathering each batch when it is used, so the run's
 * bits are too.
 */
export class Trainer {
  private readonly batches: readonly [Batch, Batch];
  /** The batch drawn for the next step and being gathered, once a step has run. */
  private ahead: Batch | null = null;
  /**
   * The rng's state after the last step's draw, before the one ahead: where a resume goes on.
   * Null until a step has drawn ahead.
   */
  private drawn: RngState | null = null;
  private readonly t: Tensor;
  private readonly params: readonly Parameter[];

  constructor(
    readonly network: Network,
    readonly optimizer: Optimizer,
    private readonly rng: Rng,
    readonly data: LabelledData,
    readonly options: TrainerOptions,
  ) {
    const { batchSize } = options;
    const { backend, dtype } = network;
    const batch = () => ({
      indices: new Int32Array(batchSize),
      x: backend.zeros([batchSize, data.inputSize], dtype),
    });
    this.batches = [batch(), batch()];
    this.t = backend.zeros([batchSize], dtype);
    this.params = network.parameters();
  }

  /** The rng's state a run resumed after the last step must start from. */
  rngState(): RngState {
    return this.drawn ?? this.rng.getState();
  }

  /** One update; returns the minibatch loss, weight decay included. */
  step(): number {
    const { data, t, network, options, batches } = this;
    const { ops } = network.backend;
    const batch = this.ahead ?? this.draw(batches[0]);
    ops.gatherRowsWait();
    this.drawn = this.rng.getState();
    this.ahead = this.draw(batch === batches[0] ? batches[1] : batches[0]);
    const { indices, x } = batch;
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

  /** Draws `batch`'s rows and starts gathering them. */
  private draw(batch: Batch): Batch {
    const { data } = this;
    this.rng.fillIndices(batch.indices, data.count);
    this.network.backend.ops.gatherRowsAhead(data.x, batch.indices, batch.x.data, data.inputSize);
    return batch;
  }
}
