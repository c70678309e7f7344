import { ChannelRegistry, compilePredicate, where } from '@liminal/channels';

const vip = where.and(where.eq('customer.tier', 'gold'), where.range('order.total', 100, 10_000), where.not(where.exists('refund')));
const matches = compilePredicate(vip); // validated once, then a plain function
console.log(matches({ customer: { tier: 'gold' }, order: { total: 250 } })); // true
console.log(JSON.stringify(vip) === JSON.stringify(JSON.parse(JSON.stringify(vip)))); // plain data

const registry = new ChannelRegistry();
const orders = registry.create({ name: 'orders', mode: 'ephemeral' });
orders.subscribe((d) => console.log('vip desk got', d.message), { filter: vip });
await orders.publish({ customer: { tier: 'gold' }, order: { total: 500 } });
await orders.publish({ customer: { tier: 'gold' }, order: { total: 500 }, refund: true });
await registry.closeAll();
