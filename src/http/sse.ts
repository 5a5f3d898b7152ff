/**
 * Server-Sent Events (HTML Living Standard, "Server-sent events"): the framing, a comment
 * heartbeat that keeps idle proxies from cutting a quiet stream, and an `id:` on every event.
 * Knows nothing of jobs (src/http/job-follower.ts streams those).
 */
import type { ServerResponse } from "node:http";

export interface SseEvent {
  event: string;
  data: unknown;
}

export interface LoggedEvent extends SseEvent {
  id: number;
}

/** `Last-Event-ID` as a number, or null when absent or not one of ours. */
export function lastEventId(header: string | string[] | undefined): number | null {
  if (typeof header !== "string" || !/^\d{1,20}$/.test(header)) return null;
  return Number(header);
}

/** One open stream: events out, a heartbeat while quiet, and an end. */
export class SseStream {
  private readonly heartbeat: NodeJS.Timeout;
  /** Set once the stream has ended, whoever ended it. */
  ended = false;
  private readonly onEnd: (() => void)[] = [];
  /** The id of the last event sent: what a client reconnecting sends as Last-Event-ID. */
  lastId = 0;

  constructor(
    private readonly raw: ServerResponse,
    headers: Record<string, string>,
    heartbeatMs: number,
  ) {
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      // nginx buffers responses unless told otherwise, which would hold events back.
      "x-accel-buffering": "no",
      ...headers,
    });
    // A comment line: clients ignore it, proxies see traffic.
    this.heartbeat = setInterval(() => raw.write(": heartbeat\n\n"), heartbeatMs);
    this.heartbeat.unref();
    raw.on("close", () => this.finish());
  }

  send({ id, event, data }: LoggedEvent): void {
    if (this.ended) return;
    this.lastId = id;
    this.raw.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream, after `last` when given. */
  end(last?: LoggedEvent, retryMs?: number): void {
    if (this.ended) return;
    if (retryMs !== undefined) this.raw.write(`retry: ${retryMs}\n`);
    if (last) this.send(last);
    this.finish();
    this.raw.end();
  }

  /** Runs `callback` once the stream has ended, whoever ended it (the client, the server). */
  whenEnded(callback: () => void): void {
    if (this.ended) callback();
    else this.onEnd.push(callback);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    for (const callback of this.onEnd.splice(0)) callback();
  }
}

/** Every open stream of a server, so that shutting down can end each with a last event. */
export class SseStreams {
  private readonly open = new Set<SseStream>();

  add(stream: SseStream): void {
    this.open.add(stream);
    stream.whenEnded(() => this.open.delete(stream));
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Ends every stream with `last` (under the id of the stream's last event, so that a client
   * reconnecting with it misses nothing) and a reconnection delay.
   */
  endAll(last: SseEvent, retryMs: number): void {
    for (const stream of [...this.open]) stream.end({ id: stream.lastId, ...last }, retryMs);
  }
}
