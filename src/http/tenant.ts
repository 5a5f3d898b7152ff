import type { FastifyRequest } from "fastify";

/** The tenant a request acts for; null while the service runs open (no API keys configured). */
export function tenantOf(_request: FastifyRequest): string | null {
  return null;
}
