import type { JobEvent } from "../training/job-events.js";
import type { Engine } from "./engine.js";
import type { JobEventRepository, StoredJobEvent } from "./repository.js";
import type { JobEventsTable } from "./schema.js";

type Row = Pick<JobEventsTable, "job_id" | "event" | "data" | "created_at"> & { id: number };

export class JobEventLog implements JobEventRepository {
  constructor(private readonly engine: Engine) {}

  /** In one transaction: one commit, however many events a slow store let pile up. */
  append(jobId: string, events: JobEvent[]): Promise<StoredJobEvent[]> {
    const at = new Date().toISOString();
    return this.engine.write(async (trx) => {
      const stored: StoredJobEvent[] = [];
      for (const event of events) {
        const row = await trx
          .insertInto("job_events")
          .values({
            job_id: jobId,
            event: event.event,
            data: JSON.stringify(event.data),
            created_at: at,
          })
          .returning(["id", "job_id", "event", "data", "created_at"])
          .executeTakeFirstOrThrow();
        stored.push(fromRow(row));
      }
      return stored;
    });
  }

  async after(jobId: string, afterId: number, limit: number): Promise<StoredJobEvent[]> {
    const rows = await this.engine.db
      .selectFrom("job_events")
      .select(["id", "job_id", "event", "data", "created_at"])
      .where("job_id", "=", jobId)
      .where("id", ">", afterId)
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map(fromRow);
  }
}

function fromRow(row: Row): StoredJobEvent {
  // The event names are this service's own, written by `append`.
  return {
    id: Number(row.id),
    jobId: row.job_id,
    at: row.created_at,
    event: row.event,
    data: JSON.parse(row.data),
  } as StoredJobEvent;
}
