import type { JobEvent } from "../training/job-events.js";
import type { Engine } from "./engine.js";
import type { JobEventRepository, StoredJobEvent } from "./repository.js";
import type { JobEventsTable } from "./schema.js";

type Row = Pick<JobEventsTable, "job_id" | "event" | "data" | "created_at"> & { id: number };

export class JobEventLog implements JobEventRepository {
  constructor(private readonly engine: Engine) {}

  async append(jobId: string, event: JobEvent): Promise<StoredJobEvent> {
    const row = await this.engine.db
      .insertInto("job_events")
      .values({
        job_id: jobId,
        event: event.event,
        data: JSON.stringify(event.data),
        created_at: new Date().toISOString(),
      })
      .returning(["id", "job_id", "event", "data", "created_at"])
      .executeTakeFirstOrThrow();
    return fromRow(row);
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
