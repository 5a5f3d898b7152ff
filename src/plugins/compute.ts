import type { FastifyInstance, FastifyReply } from "fastify";
import fp from "fastify-plugin";
import { Counter, Gauge, Histogram } from "prom-client";
import type { Config } from "../config.js";
import { KERNEL_PATHS } from "../core/backend.js";
import { ProblemError, validationFailed } from "../http/problem.js";
import {
  ComputePool,
  QueueFullError,
  QueueTimeoutError,
  type TaskName,
} from "../pool/compute-pool.js";
import type * as worker from "../pool/compute-worker.js";
import type { TaskFailure, TaskOutcome } from "../pool/tasks.js";
import type { FallbackCounts } from "../pool/worker-backend.js";

type Api = typeof worker;
type ValueOf<K extends TaskName> = ReturnType<Api[K]> extends TaskOutcome<infer T> ? T : never;

export type Compute = <K extends TaskName>(
  reply: FastifyReply,
  name: K,
  task: Parameters<Api[K]>[0],
) => Promise<ValueOf<K>>;

declare module "fastify" {
  interface FastifyInstance {
    pool: ComputePool;
    /** Runs a task in the pool within the request's deadline, mapping failures to problems. */
    compute: Compute;
    /** Counts (and logs once per reason) work that a worker's backend ran off its fast path. */
    countFallbacks(counts: FallbackCounts | undefined): void;
  }
}

type Stop = (labels: { outcome: string }) => number;

const DEADLINE = Symbol("deadline");
const CLIENT_GONE = Symbol("client gone");

function failureProblem(failure: TaskFailure): ProblemError {
  if (failure.kind === "invalid") {
    return validationFailed([{ path: failure.path, message: failure.message }]);
  }
  if (failure.kind === "shape") {
    return new ProblemError(400, "SHAPE_MISMATCH", failure.message, [
      { path: failure.path, message: failure.message },
    ]);
  }
  return new ProblemError(422, "NON_FINITE_RESULT", failure.message, [
    { path: `layers[${failure.layer}]`, message: failure.message },
  ]);
}

export default fp(
  async function compute(app: FastifyInstance, { config }: { config: Config }) {
    const pool = new ComputePool(config.pool);
    app.decorate("pool", pool);
    app.addHook("onClose", () => pool.close());

    const registers = [app.metrics.registry];
    new Gauge({
      name: "backprop_pool_queue_length",
      help: "Requests waiting for a compute thread",
      registers,
      collect() {
        this.set(pool.queueSize);
      },
    });
    new Gauge({
      name: "backprop_pool_busy_threads",
      help: "Compute threads running a task now",
      registers,
      collect() {
        this.set(pool.busyThreads);
      },
    });
    new Gauge({
      name: "backprop_pool_utilization_ratio",
      help: "Share of the compute threads running a task now (1: every thread busy)",
      registers,
      collect() {
        this.set(pool.busyThreads / pool.threads);
      },
    });
    new Counter({
      name: "backprop_pool_busy_seconds_total",
      help: "Thread-seconds spent running tasks; rate() over threads is the utilisation over time",
      registers,
      collect() {
        this.reset();
        this.inc(pool.busySeconds);
      },
    });
    const queueWait = new Histogram({
      name: "backprop_pool_queue_wait_seconds",
      help: "Time a request waited for a compute thread, by outcome (started, timeout, cancelled)",
      labelNames: ["outcome"] as const,
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });

    // Counted from what the workers report, so a watcher (or a test in another process) can
    // tell a task is running rather than guess from the time since it was sent.
    const started = new Counter({
      name: "backprop_pool_tasks_started_total",
      help: "Tasks a worker thread has begun",
      registers: [app.metrics.registry],
    });
    pool.events.on("taskStarted", () => started.inc());

    const { kernels, kernelsNote, threads } = config.pool;
    const note = kernelsNote ? ` (${kernelsNote})` : "";
    app.log.info(
      { kernels, kernelsNote, threads },
      `numeric kernels: ${kernels}${note}, ${threads} worker threads`,
    );
    const kernelInfo = new Gauge({
      name: "backprop_kernel_path_info",
      help: `The numeric kernels every worker runs (${KERNEL_PATHS.join(", ")}): 1 for the one in use`,
      labelNames: ["path"] as const,
      registers,
    });
    for (const path of KERNEL_PATHS) kernelInfo.set({ path }, path === kernels ? 1 : 0);

    const fallbacks = new Counter({
      name: "backprop_kernel_fallbacks_total",
      help: "Allocations that missed a worker's arena (arena_full) and ops that ran on the TypeScript reference because an operand lay outside it (operand_off_arena)",
      labelNames: ["reason"] as const,
      registers,
    });
    const logged = new Set<string>();
    app.decorate("countFallbacks", (counts: FallbackCounts | undefined) => {
      for (const [reason, count] of Object.entries(counts ?? {})) {
        fallbacks.inc({ reason }, count);
        if (logged.has(reason)) continue;
        logged.add(reason);
        app.log.warn(
          { reason, kernels },
          `numeric work fell off the ${kernels} kernels (${reason}); backprop_kernel_fallbacks_total counts each time`,
        );
      }
    });

    const overloaded = (detail: string) =>
      new ProblemError(503, "OVERLOADED", detail, undefined, { "retry-after": "1" });

    const run: Compute = async (reply, name, task) => {
      const controller = new AbortController();
      let deadline: NodeJS.Timeout | undefined;
      // A client that hangs up frees its place: aborting a running task ends its thread.
      const onClose = () => {
        if (!reply.raw.writableFinished) controller.abort(CLIENT_GONE);
      };
      reply.raw.once("close", onClose);
      const waiting = performance.now();
      // Set when a thread takes the task (a closure's assignment, which TS does not follow).
      const started: { stop: Stop | null } = { stop: null };
      try {
        const outcome = (await pool.run(name, task, {
          signal: controller.signal,
          queueTimeoutMs: config.poolQueueTimeoutMs,
          // The deadline is the computation's: it counts from when a thread takes the task.
          onStart: () => {
            queueWait.observe({ outcome: "started" }, (performance.now() - waiting) / 1000);
            started.stop = app.metrics.taskDuration.startTimer({ task: name });
            deadline = setTimeout(() => controller.abort(DEADLINE), config.requestTimeoutMs);
          },
        })) as TaskOutcome<ValueOf<typeof name>>;
        started.stop?.({ outcome: outcome.ok ? "ok" : outcome.failure.kind });
        app.countFallbacks(outcome.fallbacks);
        if (!outcome.ok) throw failureProblem(outcome.failure);
        return outcome.value;
      } catch (error) {
        if (error instanceof ProblemError) throw error;
        if (error instanceof QueueFullError) {
          queueWait.observe({ outcome: "rejected" }, 0);
          throw overloaded(
            `the compute queue is full (${pool.maxQueue} waiting for ${pool.threads} threads); retry shortly`,
          );
        }
        if (error instanceof QueueTimeoutError) {
          queueWait.observe({ outcome: "timeout" }, (performance.now() - waiting) / 1000);
          throw overloaded(
            `no compute thread became free within ${config.poolQueueTimeoutMs} ms (POOL_QUEUE_TIMEOUT_MS); retry shortly`,
          );
        }
        if (controller.signal.aborted) {
          const reason = controller.signal.reason;
          if (started.stop === null) {
            queueWait.observe({ outcome: "cancelled" }, (performance.now() - waiting) / 1000);
          } else started.stop({ outcome: reason === DEADLINE ? "deadline" : "cancelled" });
          if (reason === DEADLINE) {
            throw new ProblemError(
              504,
              "DEADLINE_EXCEEDED",
              `the computation took longer than ${config.requestTimeoutMs} ms (REQUEST_TIMEOUT_MS)`,
            );
          }
          throw new ProblemError(499, "CLIENT_CLOSED", "the client closed the connection");
        }
        started.stop?.({ outcome: "crashed" });
        if ((error as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY") {
          throw new ProblemError(
            500,
            "WORKER_OUT_OF_MEMORY",
            `the computation outgrew a worker's heap (WORKER_HEAP_MB=${config.pool.heapMb}); the worker was replaced`,
          );
        }
        throw error;
      } finally {
        clearTimeout(deadline);
        reply.raw.off("close", onClose);
      }
    };
    app.decorate("compute", run);
  },
  { name: "compute", dependencies: ["metrics"] },
);
