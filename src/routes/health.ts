import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
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
    { schema: { summary: "Liveness", tags: ["operations"], response: { 200: Status } } },
    async () => ({ status: "ok" }),
  );
  routes.get(
    "/readyz",
    {
      schema: {
        summary: "Readiness: 503 while starting or draining",
        tags: ["operations"],
        response: { 200: Status, 503: ProblemSchema },
      },
    },
    // While draining, the app's onRequest hook answers 503 DRAINING before this runs.
    async () => ({ status: "ready" as const }),
  );
}
