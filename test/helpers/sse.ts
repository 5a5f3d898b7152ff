/** An event of a text/event-stream, as the standard's parser reads its fields. */
export interface StreamEvent {
  id?: string;
  event: string;
  data: unknown;
  retry?: number;
}

/** The events of a text/event-stream body; comment lines (heartbeats) are counted apart. */
export function parseEvents(text: string): { events: StreamEvent[]; comments: number } {
  const events: StreamEvent[] = [];
  let comments = 0;
  for (const block of text.split("\n\n")) {
    const fields: Record<string, string> = {};
    for (const line of block.split("\n")) {
      if (line === "") continue;
      if (line.startsWith(":")) {
        comments++;
        continue;
      }
      const colon = line.indexOf(":");
      fields[line.slice(0, colon)] = line.slice(colon + 1).replace(/^ /, "");
    }
    if (fields.data === undefined) continue;
    events.push({
      ...(fields.id !== undefined ? { id: fields.id } : {}),
      event: fields.event ?? "message",
      data: JSON.parse(fields.data),
      ...(fields.retry !== undefined ? { retry: Number(fields.retry) } : {}),
    });
  }
  return { events, comments };
}
