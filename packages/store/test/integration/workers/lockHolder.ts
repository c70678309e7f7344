/**
 * Holds the write lock of a SQLite file (BEGIN IMMEDIATE) from its own
 * process: prints `locked` once it has it, and releases it (ROLLBACK) and
 * exits when its stdin ends.
 */
import Database from 'better-sqlite3';

const db = new Database(process.argv[2]!);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\n');
process.stdin.resume();
process.stdin.on('end', () => {
  db.exec('ROLLBACK');
  db.close();
  process.exit(0);
});
