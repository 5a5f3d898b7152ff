import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { Counter, Histogram } from "prom-client";

declare module "fastify" {
  interface FastifyInstance {
    /** Tells the job metrics when a job was submitted here (its queue time counts from then). */
    jobSubmitted: (jobId: string) => void;
  }
}

const FINAL = new Set(["succeeded", "failed", "cancelled"]);
const BUCKETS = [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400];

/**
 * Training jobs as operations sees them: a log line when one starts and ends, how many ended
 * in each way, how long they ran and how long they waited for a thread. Follows the training
 * manager's events; a job resumed after a restart has no queue time (it did not wait here).
 */
export default fp(
  async function jobTelemetry(app: FastifyInstance) {
    const registers = [app.metrics.registry];
    const outcomes = new Counter({
      name: "backprop_training_jobs_finished_total",
      help: "Training jobs that ended, by final status",
      labelNames: ["status"] as const,
      registers,
    });
    for (const status of FINAL) outcomes.inc({ status }, 0);
    const started = new Counter({
      name: "backprop_training_jobs_started_total",
      help: "Training jobs that started (or resumed) running",
      registers,
    });
    const duration = new Histogram({
      name: "backprop_training_job_duration_seconds",
      help: "Running time of training jobs that ended, by final status",
      labelNames: ["status"] as const,
      buckets: BUCKETS,
      registers,
    });
    const queueTime = new Histogram({
      name: "backprop_training_job_queue_seconds",
      help: "Time from a job's submission to its start",
      buckets: BUCKETS,
      registers,
    });

    const submittedAt = new Map<string, number>();
    const startedAt = new Map<string, number>();
    app.decorate("jobSubmitted", (jobId: string) => submittedAt.set(jobId, performance.now()));

    const stop = app.training.observe((jobId, event) => {
      if (event.event !== "status") return;
      const now = performance.now();
      const { status, error } = event.data;
      if (status === "running") {
        const submitted = submittedAt.get(jobId);
        submittedAt.delete(jobId);
        const queuedSeconds = submitted === undefined ? undefined : (now - submitted) / 1000;
        if (queuedSeconds !== undefined) queueTime.observe(queuedSeconds);
        startedAt.set(jobId, now);
        started.inc();
        app.log.info({ jobId, queuedSeconds }, "training job started");
      } else if (FINAL.has(status)) {
        const start = startedAt.get(jobId);
        startedAt.delete(jobId);
        submittedAt.delete(jobId);
        const seconds = start === undefined ? undefined : (now - start) / 1000;
        outcomes.inc({ status });
        if (seconds !== undefined) duration.observe({ status }, seconds);
        const line = { jobId, status, seconds, resultModelId: event.data.resultModelId, error };
        if (status === "failed") app.log.warn(line, "training job ended");
        else app.log.info(line, "training job ended");
      }
    });
    app.addHook("onClose", async () => stop());
  },
  { name: "job-telemetry", dependencies: ["training", "metrics"] },
);
