import { ChannelRegistry, IncompatibleSchemaError } from '@liminal/channels';

const registry = new ChannelRegistry();
const orders = registry.create<{ id: string; currency?: string }>({
  name: 'orders',
  mode: 'ephemeral',
  schema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
});
orders.subscribe((d) => console.log(JSON.stringify(d.message)));
await orders.publish({ id: 'o-1' });

// v2 adds an optional field with a default: the subscriber stays, old publishers keep working.
orders.evolveSchema({
  type: 'object',
  properties: { id: { type: 'string' }, currency: { type: 'string', default: 'EUR' } },
  required: ['id'],
});
await orders.publish({ id: 'o-2' });

// Making a field required would break existing publishers: refused, v2 stays.
try {
  orders.evolveSchema({ type: 'object', properties: { id: { type: 'string' }, currency: { type: 'string' } }, required: ['id', 'currency'] });
} catch (error) {
  console.log(error instanceof IncompatibleSchemaError, (error as IncompatibleSchemaError).newlyRequired);
}
await registry.closeAll();
