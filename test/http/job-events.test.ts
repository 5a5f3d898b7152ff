import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp } from "../helpers/app.js";
import { postJson, startServer } from "../helpers/server-process.js";
import { parseEvents, type StreamEvent } from "../helpers/sse.js";

/** A job on four inline samples that runs as long as a test needs it (it is cancelled after). */
const job = (iterations: number, evaluateEvery = 1_000_000) => ({
  model: {
    seed: 1,
    architecture: {
      inputSize: 2,
      hiddenSizes: [4],
      outputSize: 2,
      activation: "relu",
      weightInit: "he",
    },
  },
  data: {
    x: [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ],
    t: [0, 1, 1, 0],
  },
  batchSize: 4,
  iterations,
  evaluateEvery,
  optimizer: { type: "sgd", lr: 0.1 },
});

/**
 * Reads an event stream until `done` holds for what came so far (or the stream ends); returns
 * the text, and whether the server ended the stream.
 */
async function read(
  url: string,
  headers: Record<string, string> = {},
  done: (text: string) => boolean = () => false,
): Promise<{ text: string; ended: boolean; contentType: string | null }> {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done: ended } = await reader.read();
    if (ended) return { text, ended: true, contentType: res.headers.get("content-type") };
    text += decoder.decode(value, { stream: true });
    if (done(text)) {
      controller.abort();
      return { text, ended: false, contentType: res.headers.get("content-type") };
    }
  }
}

describe("GET /v1/training-jobs/{id}/events", () => {
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    app = await testApp({ SSE_HEARTBEAT_MS: "50", MAX_TRAINING_ITERATIONS: "10000000" });
    await app.listen({ port: 0, host: "127.0.0.1" });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(() => app.close());

  const submit = async (body: unknown) => {
    const res = await fetch(`${url}/v1/training-jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(202);
    return ((await res.json()) as { id: string }).id;
  };

  it("gives every event an id and replays what followed a Last-Event-ID", async () => {
    const id = await submit(job(300, 100));
    const whole = await read(`${url}/v1/training-jobs/${id}/events`);
    expect(whole.ended).toBe(true);
    const { events } = parseEvents(whole.text);
    expect(events.length).toBeGreaterThan(3);
    expect(events.every((e) => e.id !== undefined)).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: "status", data: { status: "succeeded" } });

    // Resumed from the second event: the events after it, the same ids and data, then the end.
    const from = events[1].id!;
    const resumed = await read(`${url}/v1/training-jobs/${id}/events`, { "last-event-id": from });
    expect(resumed.ended).toBe(true);
    const strip = (list: StreamEvent[]) => list.map(({ id, event, data }) => ({ id, event, data }));
    expect(strip(parseEvents(resumed.text).events)).toEqual(strip(events.slice(2)));

    // Resumed after the last event of a job that has ended: nothing more, and the end.
    const after = await read(`${url}/v1/training-jobs/${id}/events`, {
      "last-event-id": events.at(-1)!.id!,
    });
    expect(after.ended).toBe(true);
    expect(parseEvents(after.text).events).toEqual([]);
  });

  it("sends a comment heartbeat while the job is quiet", async () => {
    // Evaluations never come and progress only now and then: heartbeats fill the silence.
    const id = await submit(job(5_000_000));
    try {
      const { text, contentType } = await read(`${url}/v1/training-jobs/${id}/events`, {}, (t) =>
        t.includes(": heartbeat\n\n"),
      );
      expect(contentType).toMatch(/^text\/event-stream/);
      expect(parseEvents(text).comments).toBeGreaterThan(0);
    } finally {
      await fetch(`${url}/v1/training-jobs/${id}/cancel`, { method: "POST" });
    }
  });
});

describe("SIGTERM with event streams open", () => {
  it("ends every stream with a shutdown event and exits cleanly, without waiting out the shutdown timeout", async () => {
    const server = await startServer({
      POOL_THREADS: "1",
      SHUTDOWN_TIMEOUT_MS: "30000",
      MAX_TRAINING_ITERATIONS: "10000000",
    });
    try {
      const running = await postJson(`${server.url}/v1/training-jobs`, job(5_000_000));
      const queued = await postJson(`${server.url}/v1/training-jobs`, job(10));
      const streams = [running.body.id, queued.body.id].map((id) =>
        read(`${server.url}/v1/training-jobs/${id}/events`, {}, () => false),
      );
      // Both streams are open once each has sent its first event.
      await Promise.all(
        [running.body.id, queued.body.id].map((id) =>
          read(`${server.url}/v1/training-jobs/${id}/events`, {}, (t) => t.includes("\n\n")),
        ),
      );
      const sent = performance.now();
      server.child.kill("SIGTERM");
      for (const stream of await Promise.all(streams)) {
        expect(stream.ended).toBe(true);
        const last = parseEvents(stream.text).events.at(-1);
        expect(last).toMatchObject({ event: "shutdown", retry: 1000 });
      }
      const exited = await server.exited;
      console.log(`SIGTERM to exit: ${(performance.now() - sent).toFixed(0)} ms`);
      expect(exited.code).toBe(0);
      expect(server.output()).not.toContain("shutdown timed out");
    } finally {
      server.child.kill("SIGKILL");
    }
  });
});
