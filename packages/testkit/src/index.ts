export { ByteCountingStore } from './ByteCountingStore.js';
export { ForwardingStore } from './ForwardingStore.js';
export { ManualClock } from './ManualClock.js';
export { type ConversationWriter, type GrowthCheckpoint, measureSnapshotGrowth } from './snapshotGrowth.js';
export { dropTestSchema, postgresForTests, testPostgresUrl } from './postgres.js';
export { type PrivatePostgres, privatePostgresForTests, startPrivatePostgres } from './privatePostgres.js';
export { availableStoreKinds, type StoreKind, uniqueSchemaName } from './storeKinds.js';
export { sourceNodeArgs } from './sourceNodeArgs.js';
