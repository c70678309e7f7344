// A Graphile Worker process of suite 13: on `go`, a worker pool on the run's schema, reporting through WorkerReport.
// Usage: graphileWorker.ts <postgres-url> <schema> <concurrency>
import { graphileRunner } from '@liminal/bench-peer-graphile-worker';
import { WorkerReport } from './report.js';

const [url = '', schema = '', concurrency = '1'] = process.argv.slice(2);
const report = new WorkerReport();
await report.ready();
const runner = await graphileRunner(url, schema, Number(concurrency), (payload) => {
  report.started((payload as { sentAt: number }).sentAt);
  report.finished();
});
process.on('SIGTERM', () => void runner.stop().then(() => report.stop()));
await runner.promise;
