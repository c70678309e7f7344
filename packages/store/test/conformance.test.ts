import { availableStoreKinds } from '@liminal/store/testing';
import { describeConformance } from './conformance.js';

for (const kind of await availableStoreKinds()) describeConformance(kind);
