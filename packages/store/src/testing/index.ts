export { ForwardingStore } from './ForwardingStore.js';
export { postgresForTests, testPostgresUrl } from './postgres.js';
export { availableStoreKinds, type StoreKind, uniqueSchemaName } from './storeKinds.js';
