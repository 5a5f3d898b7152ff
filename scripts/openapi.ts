/**
 * Writes openapi.yaml from the routes' Zod schemas: `npm run openapi`. A test fails when the
 * committed file differs from what this generates.
 */
import { writeFileSync } from "node:fs";
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";

export async function generateOpenApi(): Promise<string> {
  const app = await buildApp(loadConfig({ POOL_THREADS: "1" }), { logger: false });
  try {
    await app.ready();
    return app.swagger({ yaml: true });
  } finally {
    await app.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL("../openapi.yaml", import.meta.url), await generateOpenApi());
  console.log("wrote openapi.yaml");
}
