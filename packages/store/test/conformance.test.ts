import { availableStoreKinds } from '@liminal/testkit';
import { describeConformance } from './conformance.js';

for (const kind of await availableStoreKinds()) describeConformance(kind);
