import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";

export const LOCK_FILE = "backprop.lock";

/** Another process holds DATA_DIR: starting here would train its jobs a second time. */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

/**
 * Takes DATA_DIR for this process, for as long as it lives: an exclusive SQLite lock on a file of
 * its own, which the operating system drops when the process ends however it ends (SIGKILL and
 * power loss included), so a stale lock never blocks a restart. A second process on the same
 * directory (a rolling deploy on a shared volume) fails here, before it resumes any job.
 */
export function lockDataDir(dir: string): { release(): void } {
  const file = join(dir, LOCK_FILE);
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    // The first write under EXCLUSIVE takes the lock and keeps it until the connection closes.
    db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)");
    db.exec("BEGIN EXCLUSIVE; DELETE FROM holder; COMMIT;");
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code !== "SQLITE_BUSY") throw err;
    throw new DataDirLockedError(
      `${dir} is in use by another backprop process${holder(dir)}: one process per DATA_DIR (for several replicas, set DATABASE_URL and REDIS_URL)`,
    );
  }
  writeFileSync(`${file}.pid`, `${process.pid}\n`);
  return { release: () => db.close() };
}

/** " (pid N)", from the holder's note beside the lock, when it left one. */
function holder(dir: string): string {
  try {
    const pid = readFileSync(join(dir, `${LOCK_FILE}.pid`), "utf8").trim();
    return /^\d+$/.test(pid) ? ` (pid ${pid})` : "";
  } catch {
    return "";
  }
}
