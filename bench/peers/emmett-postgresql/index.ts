/**
 * Emmett's PostgreSQL event store (0.42.0) behind the small surface the bench
 * suites drive. It creates its tables and functions in `public`, so the
 * suites give it a scratch database of its own.
 */
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';

export const emmettPostgresVersion = '0.42.0';

export interface EmmettPostgres {
  append(stream: string, event: { type: string; data: Record<string, unknown> }, expectedVersion: bigint): Promise<void>;
  close(): Promise<void>;
}

export async function openEmmettPostgres(connectionString: string): Promise<EmmettPostgres> {
  const store = getPostgreSQLEventStore(connectionString);
  await store.schema.migrate();
  return {
    async append(stream, event, expectedVersion) {
      await store.appendToStream(stream, [event], { expectedStreamVersion: expectedVersion });
    },
    close: () => store.close(),
  };
}
