export { postgresForTests, testPostgresUrl } from './postgres.js';
export { availableStoreKinds, type StoreKind } from './storeKinds.js';
