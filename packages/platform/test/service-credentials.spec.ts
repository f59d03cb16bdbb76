import type { ServiceToken } from '@strongroom/contracts';
import { ServiceCredentials } from '../src';

function issuer(expiresInSeconds = 300) {
  let issued = 0;
  let nowMs = 1_000_000;
  const credentials = new ServiceCredentials({
    fetchToken: async (): Promise<ServiceToken> => {
      issued += 1;
      return { accessToken: `jwt-${issued}`, tokenType: 'Bearer', expiresInSeconds };
    },
    renewBeforeSeconds: 60,
    now: () => nowMs,
  });
  return {
    credentials,
    issued: () => issued,
    advance: (seconds: number) => {
      nowMs += seconds * 1000;
    },
  };
}

describe("a service's own token", () => {
  it('is fetched on first use and reused while it is fresh', async () => {
    const { credentials, issued, advance } = issuer();
    await expect(credentials.authorization()).resolves.toBe('Bearer jwt-1');
    advance(200);
    await expect(credentials.authorization()).resolves.toBe('Bearer jwt-1');
    expect(issued()).toBe(1);
  });

  it('is renewed once less than the margin remains, before it expires', async () => {
    const { credentials, advance } = issuer();
    await credentials.authorization();
    advance(240);
    await expect(credentials.authorization()).resolves.toBe('Bearer jwt-2');
  });

  it('is fetched once for many concurrent callers', async () => {
    const { credentials, issued } = issuer();
    const all = await Promise.all(Array.from({ length: 10 }, () => credentials.authorization()));
    expect(new Set(all)).toEqual(new Set(['Bearer jwt-1']));
    expect(issued()).toBe(1);
  });

  it('uses a token shorter-lived than the margin for half its life', async () => {
    const { credentials, advance } = issuer(30);
    await credentials.authorization();
    advance(14);
    await expect(credentials.authorization()).resolves.toBe('Bearer jwt-1');
    advance(1);
    await expect(credentials.authorization()).resolves.toBe('Bearer jwt-2');
  });

  it('tries again after a failed fetch instead of caching the failure', async () => {
    let fail = true;
    const credentials = new ServiceCredentials({
      fetchToken: async () => {
        if (fail) throw new Error('auth is down');
        return { accessToken: 'jwt', tokenType: 'Bearer', expiresInSeconds: 300 };
      },
    });
    await expect(credentials.authorization()).rejects.toThrow('auth is down');
    fail = false;
    await expect(credentials.authorization()).resolves.toBe('Bearer jwt');
  });
});
