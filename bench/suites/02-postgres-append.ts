import { emmettPostgresVersion, openEmmettPostgres } from '@liminal/bench-peer-emmett-postgresql';
import { event, payload, payloadBytes } from '../src/payload.js';
import { scratchDatabase, storeAndRawPeer } from '../src/postgres.js';
import { defineSuite } from '../src/suite.js';

const emmettLabel = `Emmett PostgreSQL ${emmettPostgresVersion} appendToStream`;

export default defineSuite({
  title: '2. PostgreSQL single append',
  async run(bench) {
    const comparison = {
      id: '2-postgres-append',
      title: 'PostgreSQL single append (server defaults: fsync=on, synchronous_commit=on)',
      note:
        'One op = one append of a ~100-byte payload to one growing stream, awaited before the next, over loopback TCP. ' +
        'Liminal runs one INSERT … SELECT that checks the predecessor entry; the raw loop runs a blind INSERT; Emmett calls its append stored procedure. ' +
        'All three run at the server defaults, so equal durability and defaults are the same row.',
      targets: [
        { vs: 'raw pg INSERT', atLeast: 0.8 },
        { vs: emmettLabel, atLeast: 3 },
      ],
    };
    const url = bench.postgresUrl;
    if (!url) return bench.skip({ ...comparison, sides: ['Liminal PostgresStore.append', 'raw pg INSERT', emmettLabel] }, 'PostgreSQL unreachable');

    const { store, raw } = await storeAndRawPeer(bench, url, 'bench_pg_append', 10);
    const emmett = await openEmmettPostgres(await scratchDatabase(bench, url, 'bench_emmett'));
    bench.cleanup(() => emmett.close());

    let liminalSeq = 0;
    let rawSeq = 0;
    let emmettVersion = 0n;
    await bench.compare({
      ...comparison,
      sides: [
        {
          label: 'Liminal PostgresStore.append',
          config: 'pool 10 (default)',
          run: async () => {
            await store.append('bench-1', payloadBytes, liminalSeq);
            liminalSeq++;
          },
        },
        { label: 'raw pg INSERT', config: 'pool 10, autocommit', run: () => raw.insert('bench-1', rawSeq++, payload) },
        {
          label: emmettLabel,
          config: 'default pool, schema in its own scratch database',
          run: async () => {
            await emmett.append('bench-1', event, emmettVersion);
            emmettVersion++;
          },
        },
      ],
    });
  },
});
