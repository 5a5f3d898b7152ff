/**
 * Server-Sent Events (HTML Living Standard, "Server-sent events"): the framing, a comment
 * heartbeat that keeps idle proxies from cutting a quiet stream, an `id:` on every event, and
 * replay from `Last-Event-ID` out of a bounded log. Knows nothing of jobs: it streams whatever a
 * feed emits, keyed by a string.
 */
import type { ServerResponse } from "node:http";

export interface SseEvent {
  event: string;
  data: unknown;
}

export interface LoggedEvent extends SseEvent {
  id: number;
}

/** Where events come from: every event of every key, as it happens. */
export interface EventFeed {
  observe(listener: (key: string, event: SseEvent) => void): () => void;
}

interface KeyLog {
  events: LoggedEvent[];
  /** The highest id dropped from `events` for room; a replay from before it has a gap. */
  droppedUpTo: number;
}

/**
 * The recent events of each key with their ids. Ids grow by one per event from a base taken
 * from the clock at start (microseconds), so a later process hands out larger ids than an
 * earlier one and an id from before a restart is told apart (it cannot be replayed).
 */
export class EventLog {
  private readonly base = Date.now() * 1000;
  private last = this.base;
  private readonly logs = new Map<string, KeyLog>();
  private readonly listeners = new Map<string, Set<(event: LoggedEvent) => void>>();

  constructor(
    private readonly perKey = 1000,
    private readonly keys = 256,
  ) {}

  /** Logs every event of `feed` from now on. */
  follow(feed: EventFeed): () => void {
    return feed.observe((key, event) => this.append(key, event));
  }

  append(key: string, event: SseEvent): LoggedEvent {
    const logged = { id: ++this.last, ...event };
    let log = this.logs.get(key);
    if (log) this.logs.delete(key);
    else log = { events: [], droppedUpTo: 0 };
    // Map order is insertion order: re-inserting makes this key the most recent one.
    this.logs.set(key, log);
    log.events.push(logged);
    if (log.events.length > this.perKey) log.droppedUpTo = log.events.shift()!.id;
    if (this.logs.size > this.keys) this.logs.delete(this.logs.keys().next().value!);
    for (const listener of this.listeners.get(key) ?? []) listener(logged);
    return logged;
  }

  /** The id of the last event logged anywhere: an id a snapshot can carry. */
  get lastId(): number {
    return this.last;
  }

  /**
   * The events of `key` after `lastId`, or null when they cannot all be given: an id from
   * another process, or events dropped since.
   */
  since(key: string, lastId: number): LoggedEvent[] | null {
    if (!(lastId >= this.base && lastId <= this.last)) return null;
    const log = this.logs.get(key);
    if (!log || lastId < log.droppedUpTo) return null;
    return log.events.filter((e) => e.id > lastId);
  }

  /** Calls `listener` with each event of `key` logged from now on. */
  subscribe(key: string, listener: (event: LoggedEvent) => void): () => void {
    const set = this.listeners.get(key) ?? new Set();
    this.listeners.set(key, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(key);
    };
  }
}

/** `Last-Event-ID` as a number, or null when absent or not one of ours. */
export function lastEventId(header: string | string[] | undefined): number | null {
  if (typeof header !== "string" || !/^\d{1,20}$/.test(header)) return null;
  return Number(header);
}

/** One open stream: events out, a heartbeat while quiet, and an end. */
export class SseStream {
  private readonly heartbeat: NodeJS.Timeout;
  private ended = false;
  private readonly onEnd: (() => void)[] = [];

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

  /** Ends every stream with `last` and a reconnection delay for the client. */
  endAll(last: LoggedEvent, retryMs: number): void {
    for (const stream of [...this.open]) stream.end(last, retryMs);
  }
}
