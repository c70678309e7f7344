import { ChannelRegistry, DeliveryFailedError } from '@liminal/channels';
import { MemoryStore, StoreUnavailableError, type CommitResult, type WriteOp } from '@liminal/store';

// A store with outages on demand: the next `outages` commits (a durable publish is one) fail.
class OutageStore extends MemoryStore {
  outages = 0;
  override async commit(ops: readonly WriteOp[]): Promise<CommitResult> {
    if (this.outages > 0) {
      this.outages -= 1;
      throw new StoreUnavailableError('disk unplugged');
    }
    return super.commit(ops);
  }
}

const store = new OutageStore();
const registry = new ChannelRegistry({ store, restart: { maxRestarts: 2, withinMs: 10_000 } });
const audit = registry.create<string>({ name: 'audit', mode: 'durable' });
audit.subscribe((d) => console.log(`got ${d.message} (sequence ${d.sequence})`));

store.outages = 1; // the channel actor crashes on this write, is restarted and retries it
await audit.publish('login');
console.log(`restarts: ${audit.stats().restarts}, state: ${audit.state}`);

store.outages = Number.POSITIVE_INFINITY; // more crashes than the budget allows
await audit.publish('logout').catch((error) => console.log(error instanceof DeliveryFailedError, (error as Error).message));
console.log(`state: ${audit.state}`);
await registry.closeAll();
