// One side of a write-skew race on conditions over empty streams (see emptyStreamGuard.test.ts).
// Usage: emptyGuardRacer.ts <store-url> <side: A|B> <pairs> <rounds>
// For pair p of round r, streams a-r-p (empty) and b-r-p (one entry):
//   A commits [a is empty, append b at 1]; B commits [append a at 0, b has length 1].
// Whichever commits first breaks the other's condition, so at most one of them may succeed.
// Prints `ready` once connected, starts on a line on stdin, then prints the "r-p" names A or B won, and failures.
import { CommitConflictError, openStore } from '@liminal/store';

const [url, side, pairsText, roundsText] = process.argv.slice(2);
const store = await openStore(url!);
await store.streamLength('warm-up');
console.log('ready');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.destroy();

const won: string[] = [];
const failures: string[] = [];
const payload = new Uint8Array([side === 'A' ? 1 : 2]);
for (let round = 0; round < Number(roundsText); round++) {
  await Promise.all(
    Array.from({ length: Number(pairsText) }, async (_, pair) => {
      const [a, b] = [`a-${round}-${pair}`, `b-${round}-${pair}`];
      const ops =
        side === 'A'
          ? ([{ op: 'append', stream: a, payloads: [], expectedSeq: 0 }, { op: 'append', stream: b, payloads: [payload], expectedSeq: 1 }] as const)
          : ([{ op: 'append', stream: a, payloads: [payload], expectedSeq: 0 }, { op: 'append', stream: b, payloads: [], expectedSeq: 1 }] as const);
      try {
        await store.commit(ops);
        won.push(`${round}-${pair}`);
      } catch (error) {
        if (!(error instanceof CommitConflictError)) failures.push(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
      }
    }),
  );
}
await store.close();
console.log(JSON.stringify({ won, failures }));
