import { randomUUID } from 'node:crypto';
import { getTenant } from '@strongroom/contracts';
import { type BusClient, CachedTenantRegions, PlatformError, type Region, tenantRegionsOverBus } from '../src';

const tenantKe = randomUUID();
const tenantZa = randomUUID();

function regionsWith(fetchRegion: (tenantId: string) => Promise<Region>, options: { entriesMax?: number } = {}) {
  const fetch = jest.fn(fetchRegion);
  return { regions: new CachedTenantRegions({ fetchRegion: fetch, ...options }), fetch };
}

describe("resolving a tenant's data region", () => {
  it('asks once per tenant and remembers the answer (a region never changes)', async () => {
    const { regions, fetch } = regionsWith(async () => 'ke');
    await expect(Promise.all([regions.regionOf(tenantKe), regions.regionOf(tenantKe)])).resolves.toEqual(['ke', 'ke']);
    await expect(regions.regionOf(tenantKe.toUpperCase())).resolves.toBe('ke');
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(fetch).toHaveBeenCalledWith(tenantKe);
  });

  it('answers NOT_FOUND for an unknown tenant, and asks again next time (it may just have been created)', async () => {
    let exists = false;
    const { regions, fetch } = regionsWith(async (tenantId) => {
      if (!exists) throw PlatformError.notFound('Tenant', tenantId);
      return 'za';
    });
    await expect(regions.regionOf(tenantZa)).rejects.toMatchObject({ code: 'NOT_FOUND', details: { id: tenantZa } });
    exists = true;
    await expect(regions.regionOf(tenantZa)).resolves.toBe('za');
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it.each([
    ['UNAVAILABLE', PlatformError.unavailable('No service is serving tenants.v1.tenants.get')],
    ['TIMEOUT', PlatformError.timeout('tenants.v1.tenants.get did not answer within 5000 ms')],
    ['BAD_REPLY', PlatformError.badReply('broken')],
    ['FORBIDDEN', PlatformError.forbidden('The caller lacks the permission tenants.tenants.read')],
    ['INTERNAL', new Error('socket hang up')],
  ])('answers UNAVAILABLE when the tenants service fails with %s, and never remembers it', async (cause, failure) => {
    let down = true;
    const { regions } = regionsWith(async () => {
      if (down) throw failure;
      return 'ke';
    });
    await expect(regions.regionOf(tenantKe)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      details: { dependency: 'tenants', cause },
    });
    down = false;
    await expect(regions.regionOf(tenantKe)).resolves.toBe('ke');
  });

  it('refuses a malformed tenant id without asking anyone', async () => {
    const { regions, fetch } = regionsWith(async () => 'ke');
    await expect(regions.regionOf("x' OR 1=1 --")).rejects.toMatchObject({ code: 'VALIDATION' });
    expect(fetch).not.toHaveBeenCalled();
  });

  it('keeps at most entriesMax regions, forgetting the oldest', async () => {
    const { regions, fetch } = regionsWith(async () => 'ke', { entriesMax: 2 });
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    for (const tenantId of [a, b, c, b, a]) await regions.regionOf(tenantId);
    expect(fetch.mock.calls.map(([tenantId]) => tenantId)).toEqual([a, b, c, a]);
  });

  it("asks the tenants service with the calling service's own token", async () => {
    const request = jest.fn(async () => ({ region: 'ng' }));
    const bus = { request } as unknown as BusClient;
    const regions = tenantRegionsOverBus({ bus, asService: { authorization: async () => 'Bearer service.jwt' } });
    await expect(regions.regionOf(tenantKe)).resolves.toBe('ng');
    expect(request).toHaveBeenCalledWith(getTenant, { tenantId: tenantKe }, { credential: 'Bearer service.jwt' });
  });

  it('answers UNAVAILABLE when the service cannot get its own token (auth down)', async () => {
    const bus = { request: jest.fn() } as unknown as BusClient;
    const asService = { authorization: () => Promise.reject(PlatformError.timeout('auth did not answer')) };
    await expect(tenantRegionsOverBus({ bus, asService }).regionOf(tenantKe)).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
  });
});
