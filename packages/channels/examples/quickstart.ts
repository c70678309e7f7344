import { ChannelRegistry, where } from '@liminal/channels';

const registry = new ChannelRegistry();
const orders = registry.create<{ id: string; total: number; currency?: string }>({
  name: 'orders',
  mode: 'ephemeral',
  schema: {
    type: 'object',
    properties: { id: { type: 'string' }, total: { type: 'number' }, currency: { type: 'string', default: 'EUR' } },
    required: ['id', 'total'],
  },
});

orders.subscribe((d) => console.log(`audit ${d.message.id} ${d.message.total} ${d.message.currency}`));
orders.subscribe((d) => console.log(`big order ${d.message.id}`), { filter: where.gte('total', 100) });

const result = await orders.publish({ id: 'o-1', total: 250 });
console.log(`delivered to ${result.delivered} subscribers`);
await orders.publish({ id: 'o-2', total: 5, currency: 'USD' });
await orders.publish({ id: 'o-3', total: '12' } as never).catch((error: Error) => console.log(error.name));
console.log(registry.list());
await registry.closeAll();
