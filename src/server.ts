import { buildApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import { DataDirLockedError } from "./store/data-dir-lock.js";
import { StoreOpenError } from "./store/open-store.js";

/** The service cannot listen on its address (taken, not allowed): an operator's problem. */
class ListenError extends Error {
  override name = "ListenError";
}

/** Loads config, listens, and on SIGTERM/SIGINT drains: readiness fails, work in flight finishes. */
async function main(): Promise<void> {
  const config = loadConfig();
  const app = await buildApp(config);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.accepting = false;
    app.log.info({ signal }, "shutting down");
    const force = setTimeout(() => {
      app.log.error("shutdown timed out; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    try {
      await app.close();
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, "error while shutting down");
      process.exit(1);
    }
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    // Jobs may have been taken in the moment since ready: they go back to the queue first.
    await app.close().catch(() => {});
    throw new ListenError(
      `cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

main().catch((error: unknown) => {
  // What the operator must fix (configuration, DATA_DIR, the port) is one line; a bug keeps its stack.
  const operator =
    error instanceof ConfigError ||
    error instanceof StoreOpenError ||
    error instanceof DataDirLockedError ||
    error instanceof ListenError;
  console.error(operator ? `cannot start: ${error.message}` : error);
  process.exit(1);
});
