export { postgresForTests, testPostgresUrl } from './postgres.js';
