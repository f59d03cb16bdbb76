import { PERMISSIONS } from '@strongroom/contracts';
import fc from 'fast-check';
import { ApiKeyError, apiKeyPlatformError } from '../src/api-keys/api-key-errors';
import {
  apiKeyUsability,
  grantablePermissions,
  ROTATION_OVERLAP_SECONDS_DEFAULT,
  ROTATION_OVERLAP_SECONDS_MAX,
  rotationOverlapEndsAt,
  validatedExpiry,
} from '../src/api-keys/api-key-rules';
import { apiKeyFailureOf } from './support/api-key-failure';

const catalogue = Object.keys(PERMISSIONS);
const now = new Date('2030-01-01T00:00:00Z');
const plusSeconds = (date: Date, seconds: number) => new Date(date.getTime() + seconds * 1000);

describe('a key never grants permissions its creator does not hold', () => {
  it('grants a subset of what the creator holds, sorted and without duplicates', () => {
    const held = ['auth.users.create', 'tenants.tenants.read', 'platform.health.read'];
    expect(grantablePermissions(['tenants.tenants.read', 'auth.users.create', 'tenants.tenants.read'], held)).toEqual([
      'auth.users.create',
      'tenants.tenants.read',
    ]);
  });

  it('refuses a permission the creator lacks, naming it', () => {
    const error = (() => {
      try {
        grantablePermissions(['tenants.tenants.read', 'tenants.tenants.create'], ['tenants.tenants.read']);
      } catch (caught) {
        return caught as ApiKeyError;
      }
    })();
    expect(error).toMatchObject({ code: 'PERMISSION_NOT_HELD', details: { notHeld: ['tenants.tenants.create'] } });
    expect(apiKeyPlatformError(error as ApiKeyError)).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('refuses unknown permissions even when the creator claims to hold them, and empty or huge lists', () => {
    expect(apiKeyFailureOf(() => grantablePermissions(['admin.*'], ['admin.*']))).toBe('INVALID_PERMISSIONS');
    expect(apiKeyFailureOf(() => grantablePermissions(['__proto__'], ['__proto__']))).toBe('INVALID_PERMISSIONS');
    expect(apiKeyFailureOf(() => grantablePermissions([], catalogue))).toBe('INVALID_PERMISSIONS');
    expect(apiKeyFailureOf(() => grantablePermissions(Array(65).fill(catalogue[0]), catalogue))).toBe(
      'INVALID_PERMISSIONS',
    );
  });

  it('always returns a subset of held ∩ requested, or refuses', () => {
    const subset = fc.subarray(catalogue);
    fc.assert(
      fc.property(subset, subset, (requested, held) => {
        const outcome = (() => {
          try {
            return grantablePermissions(requested, held);
          } catch (error) {
            return (error as ApiKeyError).code;
          }
        })();
        if (typeof outcome === 'string') {
          expect(requested.length === 0 || requested.some((permission) => !held.includes(permission))).toBe(true);
          return;
        }
        for (const permission of outcome) expect(held).toContain(permission);
        expect(new Set(outcome)).toEqual(new Set(requested));
      }),
    );
  });
});

describe('rotation overlap', () => {
  const noExpiry = { expiresAt: null };

  it('lasts 24 hours by default and up to 7 days', () => {
    expect(ROTATION_OVERLAP_SECONDS_DEFAULT).toBe(86_400);
    expect(rotationOverlapEndsAt(noExpiry, now)).toEqual(plusSeconds(now, 86_400));
    expect(rotationOverlapEndsAt(noExpiry, now, ROTATION_OVERLAP_SECONDS_MAX)).toEqual(plusSeconds(now, 604_800));
    expect(rotationOverlapEndsAt(noExpiry, now, 0)).toEqual(now);
  });

  it('refuses more than 7 days, negative, fractional and non-numeric overlaps', () => {
    for (const overlapSeconds of [604_801, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(apiKeyFailureOf(() => rotationOverlapEndsAt(noExpiry, now, overlapSeconds))).toBe('INVALID_OVERLAP');
    }
  });

  it('never outlives the old key’s own expiry', () => {
    const expiresAt = plusSeconds(now, 3600);
    expect(rotationOverlapEndsAt({ expiresAt }, now, 86_400)).toEqual(expiresAt);
  });
});

describe('key lifecycle at an instant', () => {
  const active = { status: 'active' as const, expiresAt: null, overlapEndsAt: null };

  it('keeps an active key without expiry usable', () => {
    expect(apiKeyUsability(active, now)).toBe('usable');
  });

  it('refuses an expired key from its expiry instant on', () => {
    const expiresAt = plusSeconds(now, 10);
    expect(apiKeyUsability({ ...active, expiresAt }, new Date(expiresAt.getTime() - 1))).toBe('usable');
    expect(apiKeyUsability({ ...active, expiresAt }, expiresAt)).toBe('expired');
  });

  it('keeps a rotating key usable strictly before the overlap ends, then never again', () => {
    const overlapEndsAt = plusSeconds(now, 60);
    const rotating = { ...active, status: 'rotating' as const, overlapEndsAt };
    expect(apiKeyUsability(rotating, plusSeconds(now, 59))).toBe('usable');
    expect(apiKeyUsability(rotating, overlapEndsAt)).toBe('rotated_out');
    expect(apiKeyUsability(rotating, plusSeconds(now, 10 ** 9))).toBe('rotated_out');
    expect(apiKeyUsability({ ...rotating, overlapEndsAt: null }, now)).toBe('rotated_out');
  });

  it('refuses a revoked key whatever its other fields say', () => {
    const revoked = {
      status: 'revoked' as const,
      expiresAt: plusSeconds(now, 60),
      overlapEndsAt: plusSeconds(now, 60),
    };
    expect(apiKeyUsability(revoked, now)).toBe('revoked');
  });
});

describe('key expiry', () => {
  it('is optional, else in the future and at most two years ahead', () => {
    expect(validatedExpiry(undefined, now)).toBeNull();
    expect(validatedExpiry(null, now)).toBeNull();
    expect(validatedExpiry(plusSeconds(now, 1), now)).toEqual(plusSeconds(now, 1));
    for (const expiresAt of [now, plusSeconds(now, -1), plusSeconds(now, 3 * 366 * 86_400), new Date(Number.NaN)]) {
      expect(apiKeyFailureOf(() => validatedExpiry(expiresAt, now))).toBe('INVALID_EXPIRY');
    }
  });
});
