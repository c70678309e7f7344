import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { codec, DurableConversation } from '@liminal/durability';
import { SqliteStore } from '@liminal/store';
const dir = mkdtempSync(join(tmpdir(), 'prof-'));
const store = new SqliteStore(join(dir, 'r.db'), { synchronous: 'OFF' });
const out = new Uint8Array(100);
let seq = 0; let batch: Uint8Array[] = [];
for (let m = 0; m < 1000; m++) {
  const messageId = `message-${m}`;
  batch.push(codec.encode({ kind: 'messageReceived', messageId, receivedAt: 1 }));
  batch.push(codec.encode({ kind: 'processingStarted', messageId }));
  for (let s = 0; s < 97; s++) batch.push(codec.encode({ kind: 'stepCompleted', messageId, stepIndex: s, output: out }));
  batch.push(codec.encode({ kind: 'processingFinished', messageId }));
  await store.appendMany('c', batch, seq); seq += batch.length; batch = [];
}
const w = await DurableConversation.recover(store, 'c', { snapshots: { kind: 'everyEvents', events: 1 } });
await w.receiveMessage('x', 1);
const mode = process.argv[2];
const t = performance.now();
for (let i = 0; i < 10; i++) {
  const c = await DurableConversation.recover(store, 'c', mode === 'replay' ? {} : {});
  if (mode === 'replay') { await store.deleteStream('c:snapshot'); }
}
console.log(mode, ((performance.now() - t) / 10).toFixed(1), 'ms per recovery');
const [snap] = await store.readFrom('c:snapshot', 0, 1);
console.log('snapshot bytes', snap!.payload.byteLength);
const { ConversationState } = await import('@liminal/durability');
let t2 = performance.now();
for (let i = 0; i < 10; i++) codec.decodeAs(snap!.payload, 'conversationSnapshot');
console.log('decode ms', ((performance.now() - t2) / 10).toFixed(1));
const decoded = codec.decodeAs(snap!.payload, 'conversationSnapshot');
t2 = performance.now();
for (let i = 0; i < 10; i++) ConversationState.fromProgress(decoded.messages);
console.log('fromProgress ms', ((performance.now() - t2) / 10).toFixed(1));
t2 = performance.now();
for (let i = 0; i < 10; i++) await store.readFrom('c:snapshot', 0, 1);
console.log('read ms', ((performance.now() - t2) / 10).toFixed(1));
t2 = performance.now();
for (let i = 0; i < 10; i++) await store.streamLength('c');
console.log('streamLength ms', ((performance.now() - t2) / 10).toFixed(2));
