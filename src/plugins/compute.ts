import type { FastifyInstance, FastifyReply } from "fastify";
import fp from "fastify-plugin";
import { Counter, Gauge } from "prom-client";
import type { Config } from "../config.js";
import { KERNEL_PATHS } from "../core/backend.js";
import { ProblemError, validationFailed } from "../http/problem.js";
import { ComputePool, QueueFullError, type TaskName } from "../pool/compute-pool.js";
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

    new Gauge({
      name: "pool_queue_length",
      help: "Tasks waiting for a worker thread",
      registers: [app.metrics.registry],
      collect() {
        this.set(pool.queueSize);
      },
    });
    new Gauge({
      name: "pool_utilization_ratio",
      help: "Share of the pool's capacity spent running tasks since it started",
      registers: [app.metrics.registry],
      collect() {
        this.set(pool.utilization);
      },
    });

    const { kernels, kernelsNote, threads } = config.pool;
    const note = kernelsNote ? ` (${kernelsNote})` : "";
    app.log.info(
      { kernels, kernelsNote, threads },
      `numeric kernels: ${kernels}${note}, ${threads} worker threads`,
    );
    const kernelInfo = new Gauge({
      name: "kernel_path_info",
      help: `The numeric kernels every worker runs (${KERNEL_PATHS.join(", ")}): 1 for the one in use`,
      labelNames: ["path"] as const,
      registers: [app.metrics.registry],
    });
    for (const path of KERNEL_PATHS) kernelInfo.set({ path }, path === kernels ? 1 : 0);

    const fallbacks = new Counter({
      name: "kernel_fallbacks_total",
      help: "Allocations that missed a worker's arena (arena_full) and ops that ran on the TypeScript reference because an operand lay outside it (operand_off_arena)",
      labelNames: ["reason"] as const,
      registers: [app.metrics.registry],
    });
    const logged = new Set<string>();
    app.decorate("countFallbacks", (counts: FallbackCounts | undefined) => {
      for (const [reason, count] of Object.entries(counts ?? {})) {
        fallbacks.inc({ reason }, count);
        if (logged.has(reason)) continue;
        logged.add(reason);
        app.log.warn(
          { reason, kernels },
          `numeric work fell off the ${kernels} kernels (${reason}); kernel_fallbacks_total counts each time`,
        );
      }
    });

    const run: Compute = async (reply, name, task) => {
      const controller = new AbortController();
      const deadline = setTimeout(() => controller.abort(DEADLINE), config.requestTimeoutMs);
      // A client that hangs up frees its worker: aborting a running task ends its thread.
      const onClose = () => {
        if (!reply.raw.writableFinished) controller.abort(CLIENT_GONE);
      };
      reply.raw.once("close", onClose);
      const timer = app.metrics.taskDuration.startTimer({ task: name });
      try {
        const { base64Bytes } = reply.request;
        const outcome = (await pool.run(name, task, controller.signal, base64Bytes)) as TaskOutcome<
          ValueOf<typeof name>
        >;
        timer({ outcome: outcome.ok ? "ok" : outcome.failure.kind });
        app.countFallbacks(outcome.fallbacks);
        if (!outcome.ok) throw failureProblem(outcome.failure);
        return outcome.value;
      } catch (error) {
        if (error instanceof ProblemError) throw error;
        if (error instanceof QueueFullError) {
          timer({ outcome: "rejected" });
          throw new ProblemError(
            503,
            "OVERLOADED",
            "the compute queue is full; retry shortly",
            undefined,
            {
              "retry-after": "1",
            },
          );
        }
        if (controller.signal.aborted) {
          const reason = controller.signal.reason;
          timer({ outcome: reason === DEADLINE ? "deadline" : "cancelled" });
          if (reason === DEADLINE) {
            throw new ProblemError(
              504,
              "DEADLINE_EXCEEDED",
              `the computation took longer than ${config.requestTimeoutMs} ms`,
            );
          }
          throw new ProblemError(499, "CLIENT_CLOSED", "the client closed the connection");
        }
        timer({ outcome: "crashed" });
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
