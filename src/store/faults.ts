/**
 * Which errors of `pg` mean "the server is not there right now" rather than "this query is
 * wrong": the ones a retry after PostgreSQL comes back would fix.
 */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

// 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up)
const SERVER_GOING_AWAY = new Set(["57P01", "57P02", "57P03"]);

const MESSAGES = [
  /^Connection terminated/, // the socket closed under a client (pg)
  /timeout exceeded when trying to connect/, // connectionTimeoutMillis (pg-pool)
  /not queryable/, // a client that already met a connection error (pg)
];

export function isConnectionFault(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    // Class 08: connection exceptions.
    if (code.startsWith("08") || SERVER_GOING_AWAY.has(code) || NETWORK_CODES.has(code)) {
      return true;
    }
  }
  return MESSAGES.some((m) => m.test(error.message));
}
