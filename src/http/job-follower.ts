import type { JobRecord, StoredJobEvent } from "../store/repository.js";
import { isFinished, statusEvent } from "../training/job-events.js";
import type { TrainingService } from "../training/training-service.js";
import type { LoggedEvent, SseStream } from "./sse.js";

/** Stored events read per query. */
const PAGE = 500;

const final = (event: StoredJobEvent) => event.event === "status" && isFinished(event.data);

/** An event as the stream sends it: its data says when it was stored. */
const wire = (event: StoredJobEvent): LoggedEvent => ({
  id: event.id,
  event: event.event,
  data: { ...event.data, at: event.at },
});

/**
 * Streams one job's events from the store to `stream`, wherever the job runs: what the client
 * missed (after `lastId`), then what happens, each event once and in id order, until the job
 * ends. A first connection (no `lastId`) gets the job's evaluations and status changes so far
 * and its latest progress, not every progress report. Live events that arrive while the store
 * is read wait until it has been; when the bus may have dropped some, the store is read again.
 */
export function followJob(
  stream: SseStream,
  training: TrainingService,
  job: JobRecord,
  lastId: number | null,
): void {
  let last = lastId ?? 0;
  let waiting: StoredJobEvent[] | null = [];
  const send = (event: StoredJobEvent) => {
    if (event.id <= last || stream.ended) return;
    last = event.id;
    if (final(event)) stream.end(wire(event));
    else stream.send(wire(event));
  };

  const replay = async (first: boolean) => {
    const events: StoredJobEvent[] = [];
    for (let cursor = last; ; ) {
      const page = await training.eventsAfter(job.id, cursor, PAGE);
      if (!first) page.forEach(send);
      else events.push(...page);
      if (page.length < PAGE || stream.ended) break;
      cursor = page[page.length - 1].id;
    }
    if (!first) {
      // Resumed after the job's last event: nothing more is coming.
      if (isFinished(job) && !stream.ended) stream.end();
      return;
    }
    const latestProgress = events.findLast((e) => e.event === "progress");
    const kept = events.filter((e) => e.event !== "progress" || e === latestProgress);
    if (kept.length === 0) {
      // A job from before events were stored, or one that has not started: where it is now.
      const snapshot: StoredJobEvent = isFinished(job)
        ? { id: 0, jobId: job.id, at: job.finishedAt ?? job.createdAt, ...statusEvent(job) }
        : {
            id: 0,
            jobId: job.id,
            at: job.startedAt ?? job.createdAt,
            event: "progress",
            data: { ...job.progress, loss: job.loss, samplesPerSecond: job.samplesPerSecond ?? 0 },
          };
      stream.send(wire(snapshot));
      if (isFinished(job)) stream.end();
      return;
    }
    kept.forEach(send);
    if (isFinished(job) && !stream.ended) stream.end();
  };

  const catchUp = async (first: boolean) => {
    waiting ??= [];
    try {
      await replay(first);
    } finally {
      const arrived = waiting;
      waiting = null;
      arrived.forEach(send);
    }
  };

  const unsubscribe = training.subscribe(job.id, (event) => {
    if (waiting) waiting.push(event);
    else send(event);
  });
  const stopGaps = training.onGap(() => void catchUp(false).catch(() => {}));
  stream.whenEnded(() => {
    unsubscribe();
    stopGaps();
  });
  void catchUp(lastId === null).catch(() => stream.end());
}
