import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export interface Metrics {
  registry: Registry;
  taskDuration: Histogram<"task" | "outcome">;
}

declare module "fastify" {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

/** One Prometheus registry per app (no global default registry), served at /metrics. */
export default fp(
  async function metrics(app: FastifyInstance) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });

    const requests = new Counter({
      name: "backprop_http_requests_total",
      help: "HTTP requests by route and status",
      labelNames: ["method", "route", "status"] as const,
      registers: [registry],
    });
    const latency = new Histogram({
      name: "backprop_http_request_duration_seconds",
      help: "HTTP request latency by route and status",
      labelNames: ["method", "route", "status"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    const taskDuration = new Histogram({
      name: "backprop_pool_task_duration_seconds",
      help: "Compute task run time on its thread (waiting excluded), by task and outcome",
      labelNames: ["task", "outcome"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    app.decorate("metrics", { registry, taskDuration });

    app.addHook("onResponse", async (request, reply) => {
      // The route pattern, not the URL, so ids do not explode the label set.
      const route = request.routeOptions.url ?? "unmatched";
      const labels = { method: request.method, route, status: String(reply.statusCode) };
      requests.inc(labels);
      latency.observe(labels, reply.elapsedTime / 1000);
    });

    app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
      reply.type(registry.contentType);
      return registry.metrics();
    });
  },
  { name: "metrics" },
);
