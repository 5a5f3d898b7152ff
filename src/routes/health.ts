import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { ProblemError } from "../http/problem.js";
import { ProblemSchema } from "../schemas/problem.js";

declare module "fastify" {
  interface FastifyInstance {
    /** False while the server drains for shutdown: readiness fails and new work is refused. */
    accepting: boolean;
  }
}

const Status = z.object({ status: z.string() });

export default async function healthRoutes(app: FastifyInstance) {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.get(
    "/healthz",
    {
      schema: {
        summary: "Liveness",
        operationId: "getLiveness",
        tags: ["operations"],
        response: { 200: Status },
      },
    },
    async () => ({ status: "ok" }),
  );
  const Ready = z.object({
    status: z.literal("ready"),
    pool: z.object({
      threads: z.int(),
      busy: z.int(),
      queued: z.int(),
      maxQueue: z.int(),
    }),
  });
  routes.get(
    "/readyz",
    {
      schema: {
        summary:
          "Readiness: 503 while draining, while the compute pool is saturated, or while the store is unreachable",
        description:
          "503 DRAINING while shutting down; 503 OVERLOADED while every compute thread is busy and the queue is full (a new computation would be refused); 503 STORE_UNAVAILABLE while the store (PostgreSQL) does not answer.",
        operationId: "getReadiness",
        tags: ["operations"],
        response: { 200: Ready, 503: ProblemSchema },
      },
    },
    // While draining, the app's onRequest hook answers 503 DRAINING before this runs.
    async () => {
      // Throws StoreUnavailableError (503 STORE_UNAVAILABLE) while the store cannot be reached.
      await app.store.ping();
      const { pool } = app;
      if (pool.saturated) {
        throw new ProblemError(
          503,
          "OVERLOADED",
          `the compute pool is saturated: ${pool.busyThreads} of ${pool.threads} threads busy, ${pool.queueSize} requests queued (POOL_MAX_QUEUE=${pool.maxQueue})`,
          undefined,
          { "retry-after": "1" },
        );
      }
      return {
        status: "ready" as const,
        pool: {
          threads: pool.threads,
          busy: pool.busyThreads,
          queued: pool.queueSize,
          maxQueue: pool.maxQueue,
        },
      };
    },
  );
}
