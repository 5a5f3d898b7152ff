import { Writable } from "node:stream";
import request from "supertest";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { tempDir } from "../helpers/temp.js";

describe("logs", () => {
  it("carry a request id on every request line and never tensor data or credentials", async () => {
    let text = "";
    const stream = new Writable({
      write(chunk, _encoding, done) {
        text += chunk;
        done();
      },
    });
    const app = await buildApp(loadConfig({ POOL_THREADS: "1", DATA_DIR: tempDir() }), {
      logger: { level: "info", stream },
    });
    try {
      await app.ready();
      await request(app.server)
        .post("/v1/layers/forward")
        .set("authorization", "Bearer s3cret-key")
        .send({ layer: { type: "relu" }, x: [[123.456789, -987.654321]] });
      await request(app.server)
        .post("/v1/layers/forward")
        .send({ layer: { type: "relu" }, x: [[Number.NaN]] });
    } finally {
      await app.close();
    }
    const lines = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const requestLines = lines.filter((l) => l.req || l.res);
    expect(requestLines.length).toBeGreaterThanOrEqual(4);
    for (const line of requestLines) expect(line.reqId).toEqual(expect.any(String));
    expect(text).not.toContain("123.456789");
    expect(text).not.toContain("987.654321");
    expect(text).not.toContain("s3cret-key");
  });
});
