import type { Backend } from "../backend.js";
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
  /** Arrays it keeps per parameter. */
  slots: number;
  create(params: readonly Parameter[], backend: Backend, config: Hyperparameters): Optimizer;
}

const registry: Readonly<Record<OptimizerType, Entry>> = {
  sgd: { defaults: SGD.defaults, slots: 0, create: (p, b, c) => new SGD(p, b, c) },
  momentum: { defaults: Momentum.defaults, slots: 1, create: (p, b, c) => new Momentum(p, b, c) },
  nesterov: { defaults: Nesterov.defaults, slots: 1, create: (p, b, c) => new Nesterov(p, b, c) },
  adagrad: { defaults: AdaGrad.defaults, slots: 1, create: (p, b, c) => new AdaGrad(p, b, c) },
  rmsprop: { defaults: RMSprop.defaults, slots: 1, create: (p, b, c) => new RMSprop(p, b, c) },
  adam: { defaults: Adam.defaults, slots: 2, create: (p, b, c) => new Adam(p, b, c) },
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

export function createOptimizer(
  config: OptimizerConfig,
  params: readonly Parameter[],
  backend: Backend,
): Optimizer {
  return entryOf(config.type).create(params, backend, resolveOptimizerConfig(config));
}

/** Arrays an optimizer of this type keeps per parameter (for a working set). */
export function optimizerSlotCount(type: OptimizerType): number {
  return entryOf(type).slots;
}

function entryOf(type: OptimizerType): Entry {
  // Own keys only: "toString" and friends are not optimizers.
  if (!Object.hasOwn(registry, type)) {
    throw new RangeError(`unknown optimizer type ${String(type)}`);
  }
  return registry[type];
}
