import { afterEach, describe, expect, it, vi } from 'vitest';
import { StoreUnavailableError } from '@liminal/store';
import { postgresForTests } from '@liminal/testkit';

// Port 1 refuses connections at once, so these tests never wait for a timeout.
const unreachable = 'postgres://postgres@127.0.0.1:1/test';

describe('postgresForTests', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('fails under CI=true when PostgreSQL is unreachable, instead of letting the tests skip', async () => {
    vi.stubEnv('CI', 'true');
    await expect(postgresForTests(unreachable)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('outside CI, warns loudly and resolves undefined so the PostgreSQL tests can skip', async () => {
    vi.stubEnv('CI', '');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    expect(await postgresForTests(unreachable)).toBeUndefined();
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('PostgreSQL tests are SKIPPED'));
  });
});
