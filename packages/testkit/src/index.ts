export { ForwardingStore } from './ForwardingStore.js';
export { dropTestSchema, postgresForTests, testPostgresUrl } from './postgres.js';
export { restartTestPostgres } from './restartPostgres.js';
export { availableStoreKinds, type StoreKind, uniqueSchemaName } from './storeKinds.js';
