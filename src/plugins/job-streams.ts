import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { SseStreams } from "../http/sse.js";

declare module "fastify" {
  interface FastifyInstance {
    /** The event streams open on training jobs. */
    jobStreams: { streams: SseStreams; heartbeatMs: number };
  }
}

/** How long a client told to reconnect by a shutdown waits before it does (SSE `retry:`). */
const RECONNECT_MS = 1000;

/**
 * The SSE side of training jobs: a log of their events (for `Last-Event-ID`), and on close a last
 * `shutdown` event on every open stream, which is then ended so the server can exit at once.
 */
export default fp(
  async function jobStreams(app: FastifyInstance, { config }: { config: Config }) {
    const streams = new SseStreams();
    app.decorate("jobStreams", { streams, heartbeatMs: config.sseHeartbeatMs });
    app.addHook("preClose", async () => {
      streams.endAll(
        {
          event: "shutdown",
          data: {
            message:
              "the server is shutting down; reconnect (with Last-Event-ID) to follow the job on",
          },
        },
        RECONNECT_MS,
      );
    });
  },
  { name: "job-streams", dependencies: ["training"] },
);
