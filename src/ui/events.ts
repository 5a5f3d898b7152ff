import { request } from "./api.js";

export interface StreamEvent {
  event: string;
  data: unknown;
  id?: string;
}

/**
 * A Server-Sent Events stream read with fetch, which (unlike EventSource) sends the API key as a
 * header. Resolves when the server ends the stream; rejects on a network error or abort.
 */
export async function readEvents(
  path: string,
  onEvent: (event: StreamEvent) => void,
  signal: AbortSignal,
  lastEventId?: string,
): Promise<void> {
  const res = await request(path, {
    signal,
    headers: {
      accept: "text/event-stream",
      ...(lastEventId ? { "last-event-id": lastEventId } : {}),
    },
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "message";
  let data: string[] = [];
  let id: string | undefined;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline = buffer.search(/\r\n|\r|\n/);
    while (newline !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(
        buffer[newline] === "\r" && buffer[newline + 1] === "\n" ? newline + 2 : newline + 1,
      );
      newline = buffer.search(/\r\n|\r|\n/);
      if (line === "") {
        // A blank line ends an event (the SSE spec's dispatch); comments carry no data.
        if (data.length > 0) onEvent({ event, data: JSON.parse(data.join("\n")), id });
        event = "message";
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const text = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = text;
      else if (field === "data") data.push(text);
      else if (field === "id") id = text;
    }
  }
}
