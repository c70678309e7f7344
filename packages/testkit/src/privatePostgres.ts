import { execFile, execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage, StoreUnavailableError } from '@liminal/store';
import { probePostgres } from './postgres.js';

const run = promisify(execFile);

/**
 * A PostgreSQL cluster of this test's own: initdb'd into a temporary
 * directory, listening on a free loopback port. Tests that restart or stop
 * PostgreSQL use one, so the server other tests (and other people) share is
 * never touched.
 */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  readonly url: string;
  readonly port: number;
  /** Where its data, socket and log live; removed by `stop()`. */
  readonly directory: string;
  /** Restarts the cluster (every connection dies) and resolves once it accepts connections again. */
  restart(): Promise<void>;
  /** Stops the cluster and removes its directory; idempotent. */
  stop(): Promise<void>;
}

/** Clusters not yet stopped: stopped synchronously if the process exits first, so none outlives its test run. */
const running = new Set<{ stopNow(): void }>();
process.once('exit', () => {
  for (const cluster of running) cluster.stopNow();
});

/**
 * Starts a private cluster with the server binaries of `$(pg_config --bindir)`.
 * PostgreSQL refuses to run as root, so as root the directory is given to the
 * `postgres` user and `initdb`/`pg_ctl` run as that user (`runuser -u postgres --`).
 * Rejects with `StoreUnavailableError` when the binaries are missing or the
 * cluster does not come up within `timeoutMs`.
 */
export async function startPrivatePostgres(timeoutMs = 60_000): Promise<PrivatePostgres> {
  const bindir = await serverBinaries();
  const directory = mkdtempSync(join(tmpdir(), 'liminal-pg-'));
  const data = join(directory, 'data');
  const asRoot = process.getuid?.() === 0;
  const command = (binary: string, args: readonly string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', 'postgres', '--', join(bindir, binary), ...args]] : [join(bindir, binary), [...args]];
  const pgCtl = (args: readonly string[]) => {
    const [file, argv] = command('pg_ctl', ['-D', data, '-l', join(directory, 'server.log'), '-w', '-t', String(Math.ceil(timeoutMs / 1000)), ...args]);
    return run(file, argv);
  };
  let started = false;
  const cluster = {
    stopNow: () => {
      running.delete(cluster);
      if (started) {
        const [file, argv] = command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
        try {
          execFileSync(file, argv, { stdio: 'ignore' });
        } catch {
          // Already stopped.
        }
      }
      rmSync(directory, { recursive: true, force: true });
    },
  };
  running.add(cluster);
  try {
    if (asRoot) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
      chownSync(directory, uid, gid);
    }
    const [initdb, initArgs] = command('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    await run(initdb, initArgs);
    const port = await freeLoopbackPort();
    // Only loopback TCP; the socket directory is the cluster's own, never the system one.
    await pgCtl(['-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${directory}`, 'start']);
    started = true;
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitUntilReachable(url, timeoutMs);
    return {
      url,
      port,
      directory,
      restart: async () => {
        await pgCtl(['-m', 'fast', 'restart']);
        await waitUntilReachable(url, timeoutMs);
      },
      stop: async () => {
        if (!running.has(cluster)) return;
        await pgCtl(['-m', 'fast', 'stop']).catch(() => undefined);
        started = false;
        cluster.stopNow();
      },
    };
  } catch (cause) {
    cluster.stopNow();
    throw cause instanceof StoreUnavailableError
      ? cause
      : new StoreUnavailableError(`could not start a private PostgreSQL cluster: ${errorMessage(cause)}`, { cause });
  }
}

async function serverBinaries(): Promise<string> {
  try {
    return (await run('pg_config', ['--bindir'])).stdout.trim();
  } catch (cause) {
    throw new StoreUnavailableError('pg_config not found: the PostgreSQL server binaries are needed for a private cluster', { cause });
  }
}

/** A port nothing listens on right now (the kernel picks it). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitUntilReachable(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await probePostgres(url, 2_000);
      return;
    } catch (cause) {
      if (Date.now() > deadline) throw new StoreUnavailableError(`PostgreSQL at ${url} did not accept connections within ${timeoutMs} ms`, { cause });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/**
 * A private cluster for a test, or `undefined` (after a loud warning) when
 * one cannot be started here, so the test can skip. Under `CI=true` that is a
 * failure, never a silent skip.
 */
export async function privatePostgresForTests(): Promise<PrivatePostgres | undefined> {
  try {
    return await startPrivatePostgres();
  } catch (cause) {
    if (process.env['CI'] === 'true') throw cause;
    const reason = errorMessage(cause);
    console.warn(`\n${'!'.repeat(78)}\n!! No private PostgreSQL cluster (${reason}).\n!! Tests that restart PostgreSQL are SKIPPED.\n${'!'.repeat(78)}\n`);
    return undefined;
  }
}
