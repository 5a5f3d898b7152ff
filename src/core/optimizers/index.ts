import type { Parameter } from "../parameter.js";
import { AdaGrad } from "./adagrad.js";
import { Adam } from "./adam.js";
import { Momentum } from "./momentum.js";
import { Nesterov } from "./nesterov.js";
import { Optimizer } from "./optimizer.js";
import { RMSprop } from "./rmsprop.js";
import { SGD } from "./sgd.js";

export type { OptimizerState } from "./optimizer.js";
export { AdaGrad, Adam, Momentum, Nesterov, Optimizer, RMSprop, SGD };

export type OptimizerType = "sgd" | "momentum" | "nesterov" | "adagrad" | "rmsprop" | "adam";

export interface Hyperparameters {
  lr?: number;
  momentum?: number;
  decay?: number;
  beta1?: number;
  beta2?: number;
}

export type OptimizerConfig = { type: OptimizerType } & Hyperparameters;

interface Entry {
  /** The hyperparameters this optimizer reads, with the book's values. */
  defaults: Readonly<Hyperparameters>;
  create(params: readonly Parameter[], config: Hyperparameters): Optimizer;
}

const registry: Readonly<Record<OptimizerType, Entry>> = {
  sgd: { defaults: SGD.defaults, create: (params, c) => new SGD(params, c) },
  momentum: { defaults: Momentum.defaults, create: (params, c) => new Momentum(params, c) },
  nesterov: { defaults: Nesterov.defaults, create: (params, c) => new Nesterov(params, c) },
  adagrad: { defaults: AdaGrad.defaults, create: (params, c) => new AdaGrad(params, c) },
  rmsprop: { defaults: RMSprop.defaults, create: (params, c) => new RMSprop(params, c) },
  adam: { defaults: Adam.defaults, create: (params, c) => new Adam(params, c) },
};

export const OPTIMIZER_TYPES = Object.keys(registry) as OptimizerType[];

/** The book's defaults of each optimizer: exactly the hyperparameters it reads. */
export const optimizerDefaults: Readonly<Record<OptimizerType, Readonly<Hyperparameters>>> =
  Object.fromEntries(OPTIMIZER_TYPES.map((type) => [type, registry[type].defaults])) as Record<
    OptimizerType,
    Readonly<Hyperparameters>
  >;

/**
 * The values an optimizer will run with: its defaults overridden by the config. Hyperparameters
 * the optimizer does not read (e.g. momentum for adam) are left out.
 */
export function resolveOptimizerConfig(config: OptimizerConfig): OptimizerConfig {
  const entry = entryOf(config.type);
  const resolved: OptimizerConfig = { type: config.type };
  for (const [key, value] of Object.entries(entry.defaults) as [keyof Hyperparameters, number][]) {
    resolved[key] = config[key] ?? value;
  }
  return resolved;
}

export function createOptimizer(config: OptimizerConfig, params: readonly Parameter[]): Optimizer {
  return entryOf(config.type).create(params, resolveOptimizerConfig(config));
}

function entryOf(type: OptimizerType): Entry {
  // Own keys only: "toString" and friends are not optimizers.
  if (!Object.hasOwn(registry, type)) {
    throw new RangeError(`unknown optimizer type ${String(type)}`);
  }
  return registry[type];
}
