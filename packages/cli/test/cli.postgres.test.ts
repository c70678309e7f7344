import { dropTestSchema, postgresForTests, uniqueSchemaName } from '@liminal/testkit';
import { afterAll } from 'vitest';
import { describeDemoStore } from './demoStore.js';

const schemas: string[] = [];
afterAll(async () => {
  for (const schema of schemas) await dropTestSchema(schema);
});

describeDemoStore('PostgreSQL', async () => {
  const url = await postgresForTests();
  if (url === undefined) return undefined;
  const schema = uniqueSchemaName();
  schemas.push(schema);
  return `${url}?schema=${schema}`;
});
