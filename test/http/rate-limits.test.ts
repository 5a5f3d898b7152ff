import type { FastifyInstance } from "fastify";
import request from "supertest";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { testApp } from "../helpers/app.js";

let app: FastifyInstance | undefined;
afterEach(() => app?.close());

/** `n` GETs of /v1/datasets, each from `ip` as a proxy in front would forward it. */
async function statuses(n: number, forwardedFor?: (i: number) => string) {
  const seen: number[] = [];
  for (let i = 0; i < n; i++) {
    const req = request(app!.server).get("/v1/datasets");
    if (forwardedFor) req.set("x-forwarded-for", forwardedFor(i));
    seen.push((await req).status);
  }
  return seen;
}

describe("rate limits in open mode", () => {
  it("are off by default: a gateway in front has every client's address", async () => {
    app = await testApp();
    const seen = await statuses(300);
    expect(seen.every((s) => s === 200)).toBe(true);
    const res = await request(app.server).get("/v1/datasets");
    expect(res.headers["x-ratelimit-limit"]).toBeUndefined();
  });

  it("limit each client address when RATE_LIMIT_PER_MINUTE is set", async () => {
    app = await testApp({ RATE_LIMIT_PER_MINUTE: "5" });
    const seen = await statuses(8);
    expect(seen.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(seen.slice(5)).toEqual([429, 429, 429]);
  });

  it("ignore X-Forwarded-For unless TRUST_PROXY trusts the proxy that sent it", async () => {
    app = await testApp({ RATE_LIMIT_PER_MINUTE: "3" });
    // Untrusted: every request is the loopback client's, whatever the header claims.
    expect(await statuses(5, (i) => `203.0.113.${i}`)).toEqual([200, 200, 200, 429, 429]);
    await app.close();

    app = await testApp({ RATE_LIMIT_PER_MINUTE: "3", TRUST_PROXY: "127.0.0.1,::1" });
    // Trusted: each forwarded client has its own budget; one of them spends its own.
    expect(await statuses(5, (i) => `203.0.113.${i}`)).toEqual([200, 200, 200, 200, 200]);
    expect(await statuses(4, () => "198.51.100.7")).toEqual([200, 200, 200, 429]);
  });
});

describe("the distributed settings", () => {
  it("refuse REDIS_URL without DATABASE_URL, and a TRUST_PROXY that is no address", () => {
    expect(() => loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" })).toThrow(
      /REDIS_URL needs DATABASE_URL/,
    );
    expect(() => loadConfig({ REDIS_URL: "http://x" })).toThrow(/REDIS_URL: must be a redis:\/\//);
    expect(() => loadConfig({ TRUST_PROXY: "my-proxy" })).toThrow(/TRUST_PROXY: "my-proxy"/);
    expect(() => loadConfig({ JOB_TAKEOVER_S: "1" })).toThrow(/JOB_TAKEOVER_S/);
    const both = loadConfig({
      DATABASE_URL: "postgres://db.internal/backprop",
      REDIS_URL: "redis://cache.internal:6379",
      JOB_TAKEOVER_S: "12",
    });
    expect(both.distributed).toEqual({
      redisUrl: "redis://cache.internal:6379",
      takeoverMs: 12_000,
    });
    expect(loadConfig({}).distributed).toBeNull();
    expect(loadConfig({}).auth.rateLimitPerMinute).toBeNull();
    expect(loadConfig({ API_KEYS: "a:0123456789abcdef" }).auth.rateLimitPerMinute).toBe(6000);
  });
});
