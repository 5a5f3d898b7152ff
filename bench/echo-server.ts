/**
 * The transport floor of bench:forward: a bare node:http server in a process of its own, with the
 * service's Node flags, that reads a request body into one buffer as the service does and answers
 * ANSWER_BYTES bytes of JSON-sized text, doing nothing else. Started by forward-product.ts over
 * IPC: it sends its port once it listens.
 */
import { createServer } from "node:http";

const answer = Buffer.alloc(Number(process.env.ANSWER_BYTES), "A");

const server = createServer((req, res) => {
  const body = Buffer.allocUnsafeSlow(Number(req.headers["content-length"]));
  let received = 0;
  req.on("data", (chunk: Buffer) => {
    body.set(chunk, received);
    received += chunk.length;
  });
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": answer.length });
    res.end(answer);
  });
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") process.send?.(address.port);
});
