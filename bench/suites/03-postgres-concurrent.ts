import { payload, payloadBytes } from '../src/payload.js';
import { storeAndRawPeer } from '../src/postgres.js';
import { Callers } from '../src/streams.js';
import { defineSuite } from '../src/suite.js';

const poolSize = 10;

export default defineSuite({
  title: '3. Concurrent appenders on PostgreSQL',
  async run(bench) {
    for (const inFlight of [16, 64]) {
      const comparison = {
        id: `3-postgres-concurrent/${inFlight}`,
        title: `${inFlight} appends in flight on ${inFlight} distinct streams, pool of ${poolSize} on both sides`,
        note:
          `One call starts one append on each of ${inFlight} streams at once and waits for all; ops/s counts appends. ` +
          `Both sides use a pg pool of ${poolSize} connections (PostgresStore's default), so requests queue in the pool alike.`,
        targets: [{ vs: 'raw pg INSERT', atLeast: 0.8 }],
      };
      const url = bench.postgresUrl;
      if (!url) {
        bench.skip({ ...comparison, sides: ['Liminal PostgresStore.append', 'raw pg INSERT'] }, 'PostgreSQL unreachable');
        continue;
      }
      const { store, raw } = await storeAndRawPeer(bench, url, 'bench_pg_conc', poolSize);
      const liminalCallers = new Callers(inFlight, 'liminal');
      const rawCallers = new Callers(inFlight, 'raw');
      await bench.compare({
        ...comparison,
        sides: [
          {
            label: 'Liminal PostgresStore.append',
            config: `pool ${poolSize}`,
            opsPerCall: inFlight,
            run: () => liminalCallers.round((stream, seq) => store.append(stream, payloadBytes, seq)),
          },
          {
            label: 'raw pg INSERT',
            config: `pool ${poolSize}, autocommit`,
            opsPerCall: inFlight,
            run: () => rawCallers.round((stream, seq) => raw.insert(stream, seq, payload)),
          },
        ],
      });
      // Free the connections before the next size opens its own pools.
      await store.close();
      await raw.close();
    }
  },
});
