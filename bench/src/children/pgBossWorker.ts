// A pg-boss process of suite 13: started on the run's schema; on `go`, `localConcurrency` workers, reporting through WorkerReport.
// Usage: pgBossWorker.ts <postgres-url> <schema> <concurrency>
import { pgBossWork, startPgBoss } from '@liminal/bench-peer-pg-boss';
import { WorkerReport } from './report.js';

const [url = '', schema = '', concurrency = '1'] = process.argv.slice(2);
const report = new WorkerReport();
const boss = await startPgBoss(url, schema);
process.on('SIGTERM', () => void boss.stop({ graceful: false }).then(() => report.stop()));
await report.ready();
// Batches of 64, like a Liminal member's partition reads.
await pgBossWork(boss, Number(concurrency), 64, (data) => {
  report.started((data as { sentAt: number }).sentAt);
  report.finished();
});
