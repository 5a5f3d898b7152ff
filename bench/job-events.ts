/** An event of a job's stream, with when this client read it. */
export interface JobStreamEvent {
  id: number;
  event: string;
  data: Record<string, unknown>;
  receivedAt: number;
}

/**
 * Follows a job's event stream, calling `onEvent` with each event as it arrives, until it returns
 * true or the stream ends.
 */
export async function follow(
  url: string,
  jobId: string,
  onEvent: (e: JobStreamEvent) => boolean | undefined,
) {
  const controller = new AbortController();
  const res = await fetch(`${url}/v1/training-jobs/${jobId}/events`, { signal: controller.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(
          block
            .split("\n")
            .filter((l) => !l.startsWith(":") && l.includes(":"))
            .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]),
        );
        if (fields.data === undefined) continue;
        const event = {
          id: Number(fields.id),
          event: fields.event,
          data: JSON.parse(fields.data),
          receivedAt: Date.now(),
        };
        if (onEvent(event)) return;
      }
    }
  } catch (error) {
    if ((error as Error).name !== "AbortError") throw error;
  } finally {
    controller.abort();
  }
}
