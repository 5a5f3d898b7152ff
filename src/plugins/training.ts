import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { Gauge } from "prom-client";
import type { Config } from "../config.js";
import { poolEvaluator } from "../training/pool-evaluation.js";
import { TrainingManager } from "../training/training-manager.js";

declare module "fastify" {
  interface FastifyInstance {
    training: TrainingManager;
  }
}

/** The training manager: resumes left-over jobs once the app is ready, checkpoints them on close. */
export default fp(
  async function training(app: FastifyInstance, { config }: { config: Config }) {
    // With one compute thread, evaluating there frees nothing: the job's own thread does it.
    const evaluator = config.pool.threads > 1 ? poolEvaluator(app.pool) : undefined;
    const manager = new TrainingManager(app.store, config, app.log, evaluator);
    app.decorate("training", manager);
    app.addHook("onReady", async () => manager.start());
    app.addHook("preClose", () => manager.close());
    new Gauge({
      name: "backprop_training_jobs",
      help: "Training jobs in this process by state",
      labelNames: ["state"] as const,
      registers: [app.metrics.registry],
      collect() {
        this.set({ state: "running" }, manager.activeJobs);
        this.set({ state: "queued" }, manager.queuedJobs);
      },
    });
  },
  { name: "training", dependencies: ["store", "metrics", "compute"] },
);
