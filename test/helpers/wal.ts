import { readFileSync } from "node:fs";

/**
 * How a SQLite write-ahead log ends, read the way recovery reads it
 * (https://www.sqlite.org/fileformat.html#the_write_ahead_log): the frames of the current
 * generation are those whose salts match the header's, and a transaction is committed by a frame
 * whose "database size" field is non-zero. A log ending in other frames was cut mid-transaction.
 */
export function walTail(file: string): { frames: number; endsInCommit: boolean } {
  const wal = readFileSync(file);
  if (wal.length < 32) return { frames: 0, endsInCommit: true };
  const pageSize = wal.readUInt32BE(8);
  const salt1 = wal.readUInt32BE(16);
  const salt2 = wal.readUInt32BE(20);
  let frames = 0;
  let endsInCommit = true;
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (wal.readUInt32BE(at + 8) !== salt1 || wal.readUInt32BE(at + 12) !== salt2) break;
    frames++;
    endsInCommit = wal.readUInt32BE(at + 4) !== 0;
  }
  return { frames, endsInCommit };
}

/** Bytes a process has written so far, to any file or socket (Linux /proc/<pid>/io). */
function bytesWritten(pid: number): number {
  return Number(/^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1]);
}

function stopped(pid: number): boolean {
  // /proc/<pid>/stat: "pid (comm) state ...": T once every thread has taken the SIGSTOP.
  return /\) T /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
}

/**
 * SIGKILLs a process inside one of its SQLite write transactions on `wal`. Whenever the process
 * writes in bulk, it is frozen (SIGSTOP) and its log read: cut mid-transaction, it is killed as it
 * stands; otherwise it is thawed and watched again. Linux only. False if no write was caught in
 * time (the process is killed anyway).
 */
export async function killInsideTransaction(
  pid: number,
  wal: string,
  timeoutMs = 15_000,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let before = bytesWritten(pid);
  while (Date.now() < deadline) {
    await new Promise((r) => setImmediate(r));
    const now = bytesWritten(pid);
    // More than a log line or a response: pages going to the log or the database.
    if (now - before > 64 * 1024) {
      process.kill(pid, "SIGSTOP");
      while (!stopped(pid)) await new Promise((r) => setImmediate(r));
      if (!walTail(wal).endsInCommit) {
        process.kill(pid, "SIGKILL");
        return true;
      }
      process.kill(pid, "SIGCONT");
    }
    before = bytesWritten(pid);
  }
  process.kill(pid, "SIGKILL");
  return false;
}
