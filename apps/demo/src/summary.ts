import Table from 'cli-table3';
import type { Run } from './manifest.js';
import { participantKinds, undoEffects } from './saga.js';
import type { WorkerStats } from './stats.js';
import { describeSpec, participantSupervision, partitionSupervision, workerSupervision } from './supervision.js';
import type { VerifyReport } from './verify.js';
import type { WorkerPool } from './workers.js';

export interface Summary {
  readonly run: Run;
  readonly report: VerifyReport;
  readonly totals: WorkerStats;
  readonly pool: WorkerPool;
  readonly elapsedMs: number;
  readonly processedThisSession: number;
}

export function printSummary(out: NodeJS.WritableStream, s: Summary): void {
  const { report, totals } = s;
  const seconds = s.elapsedMs / 1000;
  const table = new Table({ head: ['run ' + s.run.run, 'value'], style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
  table.push(
    ['messages (orders)', `${report.orders} (${report.fulfilled} fulfilled, ${report.compensated} compensated)`],
    ['steps', String(report.steps)],
    ['side effects (ledger entries)', String(report.sideEffects)],
    ['crashes injected', String(totals.crashesInjected)],
    ['restarts', `${totals.participantRestarts + totals.partitionRestarts + s.pool.restarts} (participants ${totals.participantRestarts}, partitions ${totals.partitionRestarts}, worker processes ${s.pool.restarts})`],
    ['compensations', String(report.compensations)],
    ['store outages waited out', String(totals.storeOutages)],
    ['duplicates suppressed', `${totals.duplicatesSuppressed} effects, ${totals.redeliveriesSkipped} redeliveries`],
    ['lost (ledger read back)', String(report.lost)],
    ['duplicated effects', String(report.duplicated)],
    ['elapsed', `${seconds.toFixed(1)} s`],
    ['messages/s', seconds > 0 ? String(Math.round(s.processedThisSession / seconds)) : '-'],
  );
  out.write(`${table.toString()}\n`);
  for (const problem of report.problems) out.write(`  problem: ${problem}\n`);
  out.write(`${supervisionTree(s)}\n`);
}

/** The supervision tree as it ran: coordinator -> worker processes -> partition supervisors -> participants. */
export function supervisionTree(s: Summary): string {
  const lines = [`coordinator (${describeSpec(workerSupervision)}): ${s.pool.restarts} worker restarts`];
  s.pool.slots.forEach((slot, i) => {
    const lastSlot = i === s.pool.slots.length - 1;
    const stats = s.pool.totalsOf(slot);
    const [branch, indent] = lastSlot ? ['└─', '   '] : ['├─', '│  '];
    lines.push(`${branch} worker ${slot.index} (pid ${slot.pid ?? '-'}, started ${slot.starts}x): partitions from the worker group`);
    lines.push(`${indent}└─ partition supervisors (${describeSpec(partitionSupervision)}): ${stats.partitionRestarts} restarts`);
    lines.push(`${indent}   └─ participants (${describeSpec(participantSupervision)})`);
    participantKinds.forEach((kind, k) => {
      const leaf = k === participantKinds.length - 1 ? '└─' : '├─';
      const undo = undoEffects[kind];
      const note = undo === undefined ? '' : `, compensated by ${undo}`;
      lines.push(`${indent}      ${leaf} ${kind.padEnd(12)} restarted ${stats.restartsByParticipant[kind]}x${note}`);
    });
  });
  return lines.join('\n');
}
