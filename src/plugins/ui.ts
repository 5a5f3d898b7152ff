import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

/**
 * Everything the page loads comes from here: its own scripts, styles and uPlot. No inline
 * script or style, no other origin, no framing; the API is reached with fetch on this origin.
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

// Both src/plugins (tests, tsx) and dist/plugins (npm start, the image) sit two levels below the
// package, where the build writes the compiled page.
const UI_ROOT = fileURLToPath(new URL("../../dist/ui/", import.meta.url));
const UPLOT_ROOT = join(
  dirname(createRequire(import.meta.url).resolve("uplot/package.json")),
  "dist",
);

/** The dashboard at /ui/ (compiled from src/ui by `npm run build`); `/` redirects there. */
export default async function ui(app: FastifyInstance) {
  app.addHook("onSend", async (_request, reply) => {
    reply.header("content-security-policy", UI_CSP);
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    // Small files with ETags: always revalidated, so a rebuilt page is never stale.
    reply.header("cache-control", "no-cache");
  });
  await app.register(fastifyStatic, {
    root: UI_ROOT,
    prefix: "/ui/",
    cacheControl: false,
    redirect: true,
  });
  await app.register(fastifyStatic, {
    root: UPLOT_ROOT,
    prefix: "/ui/vendor/",
    decorateReply: false,
    cacheControl: false,
    allowedPath: (path) => path === "/uPlot.esm.js" || path === "/uPlot.min.css",
  });
  app.get("/", { schema: { hide: true } }, (_request, reply) => reply.redirect("/ui/", 302));
}
