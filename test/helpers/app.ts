import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { tempDir } from "./temp.js";

/** An app on the default configuration with `env` overrides, silent, ready for supertest. */
export async function testApp(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const app = await buildApp(loadConfig({ POOL_THREADS: "1", DATA_DIR: tempDir(), ...env }), {
    logger: false,
  });
  await app.ready();
  return app;
}
