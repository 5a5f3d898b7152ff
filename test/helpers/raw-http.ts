import { once } from "node:events";
import { connect, type Socket } from "node:net";

/**
 * The raw HTTP answer to what `write` sends on a fresh connection to 127.0.0.1:`port`, once the
 * server ends the connection: for requests no HTTP client would send.
 */
export async function exchange(
  port: number,
  write: (socket: Socket) => Promise<void>,
): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  const received: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  const closed = once(socket, "close");
  await write(socket);
  await closed;
  return Buffer.concat(received).toString("latin1");
}

/** The status, headers (lower-cased names) and JSON body of a raw answer. */
export function answerOf(raw: string) {
  const end = raw.indexOf("\r\n\r\n");
  const [statusLine, ...lines] = raw.slice(0, end).split("\r\n");
  const headers = Object.fromEntries(
    lines.map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    }),
  );
  return {
    status: Number(statusLine.split(" ")[1]),
    headers,
    body: JSON.parse(raw.slice(end + 4)),
  };
}
