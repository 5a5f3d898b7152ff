import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { keyring } from "../http/api-keys.js";
import { ProblemError } from "../http/problem.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The tenant of the request's API key; null while the service runs open. */
    tenant: string | null;
  }
}

const unauthorized = (detail: string) =>
  new ProblemError(401, "UNAUTHORIZED", detail, undefined, {
    "www-authenticate": 'Bearer realm="backprop"',
  });

/**
 * The route the router matched, not the raw request target: `GET http://host/v1/models` and
 * `GET /%761/models` reach /v1/models too, and must not pass as something else.
 */
const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? request.url;

/** /v1 and /v2 (the Open Inference Protocol), whose health routes stay open as /healthz does. */
const isApi = (request: FastifyRequest) => {
  const route = routeOf(request);
  if (route.startsWith("/v2/health/")) return false;
  return route.startsWith("/v1/") || route === "/v1" || route.startsWith("/v2/") || route === "/v2";
};

/**
 * Bearer API keys per tenant on every /v1 and /v2 route (and on /metrics when METRICS_KEY is set),
 * checked in onRequest, before the body is read; then a per-tenant rate limit when one is set.
 */
export default fp(
  async function auth(app: FastifyInstance, { config }: { config: Config }) {
    const { keys, metricsKey, rateLimitPerMinute } = config.auth;
    app.decorateRequest("tenant", null);
    const tenantOf = keyring(keys);
    const metrics = metricsKey === null ? null : keyring([{ tenant: "metrics", key: metricsKey }]);
    if (keys.length === 0) {
      app.log.warn("API_KEYS is not set: the service runs open, without authentication");
    }

    app.addHook("onRequest", async (request) => {
      const bearer = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
      if (metrics && routeOf(request).startsWith("/metrics")) {
        if (!bearer || !metrics(bearer)) throw unauthorized("/metrics needs the metrics key");
        return;
      }
      if (keys.length === 0 || !isApi(request)) return;
      if (!bearer) throw unauthorized("send Authorization: Bearer <API key>");
      const tenant = tenantOf(bearer);
      if (tenant === null) throw unauthorized("the API key is not valid");
      request.tenant = tenant;
    });

    // Open, the service leaves rate limits to the gateway in front of it (as Triton, TorchServe
    // and KServe do): behind one, every client has the gateway's address.
    if (rateLimitPerMinute === null) return;
    await app.register(rateLimit, {
      global: true,
      max: rateLimitPerMinute,
      timeWindow: 60_000,
      // Distributed, the counts live in Redis, so the limit holds across replicas; while Redis
      // is away requests pass rather than fail.
      ...(app.redis && { redis: app.redis, nameSpace: "backprop:rate-limit:", skipOnError: true }),
      allowList: (request) => !isApi(request),
      keyGenerator: (request) => request.tenant ?? `ip:${request.ip}`,
      errorResponseBuilder: (_request, context) =>
        new ProblemError(
          429,
          "RATE_LIMITED",
          `more than ${context.max} requests a minute; retry in ${context.after}`,
          undefined,
          { "retry-after": String(Math.ceil(context.ttl / 1000)) },
        ),
    });
  },
  { name: "auth", dependencies: ["redis"] },
);
