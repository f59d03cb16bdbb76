import { getTenant, tenantIdSchema } from '@strongroom/contracts';
import type { BusClient } from '../bus/bus-client';
import { ReadThroughCache } from '../caching/read-through-cache';
import type { Region } from '../config/service-config';
import type { CredentialSource } from '../credentials/service-credentials';
import { PlatformError } from '../errors/platform-error';

// A region is fixed at creation, so an entry is never stale: the bound is memory, not freshness.
const ENTRIES_MAX_DEFAULT = 10_000;
const TTL_MS_DEFAULT = 24 * 60 * 60_000;

/** Where a tenant's data lives. */
export interface TenantRegionResolver {
  /** The tenant's region; NOT_FOUND for an unknown tenant, UNAVAILABLE when it cannot be told. */
  regionOf(tenantId: string): Promise<Region>;
}

export interface CachedTenantRegionsOptions {
  /** Asks the source of truth (the tenants service); any failure but NOT_FOUND counts as "cannot tell". */
  fetchRegion: (tenantId: string) => Promise<Region>;
  entriesMax?: number;
  ttlMs?: number;
  nowMs?: () => number;
}

/**
 * Tenants' regions, remembered once read (bounded). A failure is never remembered: a tenant
 * created a moment after a NOT_FOUND, or a tenants service back from an outage, is seen on the
 * next call. Failing is the only answer when the region is unknown: guessing would put a
 * tenant's rows in another country's database.
 */
export class CachedTenantRegions implements TenantRegionResolver {
  private readonly cache: ReadThroughCache<string, Region>;

  constructor(private readonly options: CachedTenantRegionsOptions) {
    this.cache = new ReadThroughCache({
      ttlMs: options.ttlMs ?? TTL_MS_DEFAULT,
      entriesMax: options.entriesMax ?? ENTRIES_MAX_DEFAULT,
      nowMs: options.nowMs,
    });
  }

  regionOf(tenantId: string): Promise<Region> {
    if (!tenantIdSchema.safeParse(tenantId).success) {
      return Promise.reject(PlatformError.validation('tenant id must be a UUID', { tenantId: '(invalid)' }));
    }
    const key = tenantId.toLowerCase();
    return this.cache.get(key, () => this.fetch(key));
  }

  private async fetch(tenantId: string): Promise<Region> {
    try {
      return await this.options.fetchRegion(tenantId);
    } catch (error) {
      if (error instanceof PlatformError && error.code === 'NOT_FOUND')
        throw PlatformError.notFound('Tenant', tenantId);
      // Timeouts, no responders, a bad reply, our own token refused: the caller may retry later.
      const cause = error instanceof PlatformError ? error.code : 'INTERNAL';
      throw PlatformError.unavailable("The tenant's data region cannot be resolved", { dependency: 'tenants', cause });
    }
  }
}

export interface TenantRegionsOverBusOptions {
  bus: BusClient;
  /** The calling service's own token: it asks on its own behalf (`tenants.tenants.read`), never with a user's. */
  asService: CredentialSource;
  entriesMax?: number;
}

/** Regions asked of the tenants service (`tenants.v1.tenants.get`) with the service's own token. */
export function tenantRegionsOverBus(options: TenantRegionsOverBusOptions): CachedTenantRegions {
  return new CachedTenantRegions({
    entriesMax: options.entriesMax,
    fetchRegion: async (tenantId) => {
      const credential = await options.asService.authorization();
      const tenant = await options.bus.request(getTenant, { tenantId }, { credential });
      return tenant.region;
    },
  });
}
