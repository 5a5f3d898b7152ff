import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { Gauge } from "prom-client";
import type { Config } from "../config.js";
import { poolEvaluator } from "../training/pool-evaluation.js";
import { TrainingService } from "../training/training-service.js";

declare module "fastify" {
  interface FastifyInstance {
    training: TrainingService;
  }
}

/** Training jobs: resumes left-over jobs once the app is ready, checkpoints them on close. */
export default fp(
  async function training(app: FastifyInstance, { config }: { config: Config }) {
    // With one compute thread, evaluating there frees nothing: the job's own thread does it.
    const evaluator =
      config.pool.threads > 1 ? poolEvaluator(app.pool, app.countFallbacks) : undefined;
    const { distributed } = config;
    const service = new TrainingService(
      app.store,
      config,
      app.log,
      evaluator,
      app.countFallbacks,
      distributed ? await distributedParts(app, config, distributed) : {},
    );
    app.decorate("training", service);
    app.addHook("onReady", async () => service.start());
    app.addHook("preClose", () => service.close());
    new Gauge({
      name: "backprop_training_jobs",
      help: "Training jobs running in this process, and waiting in the queue (shared by every replica when distributed)",
      labelNames: ["state"] as const,
      registers: [app.metrics.registry],
      async collect() {
        this.set({ state: "running" }, service.activeJobs);
        this.set({ state: "queued" }, await service.queuedJobs());
      },
    });
  },
  { name: "training", dependencies: ["store", "metrics", "compute"] },
);

/**
 * The job queue and event bus of distributed mode, on Redis. Loaded only then: BullMQ and ioredis
 * are megabytes of heap that every garbage collection of an embedded server would walk.
 */
async function distributedParts(
  app: FastifyInstance,
  config: Config,
  distributed: NonNullable<Config["distributed"]>,
) {
  const [{ BullJobQueue }, { RedisJobEventBus }] = await Promise.all([
    import("../distributed/bull-job-queue.js"),
    import("../distributed/redis-job-event-bus.js"),
  ]);
  return {
    queue: new BullJobQueue({
      url: distributed.redisUrl,
      store: app.store,
      concurrency: config.training.concurrency,
      takeoverMs: distributed.takeoverMs,
      log: app.log,
    }),
    bus: new RedisJobEventBus(distributed.redisUrl, app.log),
  };
}
