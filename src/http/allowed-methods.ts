/**
 * Which methods the routes answer at a path, so that a wrong method gets `405` with `Allow`
 * (RFC 9110 §15.5.6) rather than the `404` of a path that does not exist.
 */
export class AllowedMethods {
  private readonly routes: { pattern: RegExp; method: string }[] = [];

  /** A route as Fastify's onRoute sees it: `/v1/models/:id`, one method or several. */
  add(url: string, methods: string | string[]): void {
    const escaped = url
      .split("/")
      .map((part) => (part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
      .join("/");
    const pattern = new RegExp(`^${escaped}$`);
    for (const method of [methods].flat()) this.routes.push({ pattern, method });
  }

  /** The methods some route answers at `path` (no query), sorted; empty for an unknown path. */
  at(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) methods.add(route.method);
    return [...methods].sort();
  }
}
