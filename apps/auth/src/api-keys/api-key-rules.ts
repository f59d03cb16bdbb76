import { isPermission, type Permission } from '@strongroom/contracts';
import { ApiKeyError } from './api-key-errors';
import type { ApiKeyRecord } from './api-key-record';

export const ROTATION_OVERLAP_SECONDS_DEFAULT = 24 * 60 * 60;
export const ROTATION_OVERLAP_SECONDS_MAX = 7 * 24 * 60 * 60;
export const API_KEY_LIFETIME_SECONDS_MAX = 2 * 366 * 24 * 60 * 60;
export const API_KEY_PERMISSIONS_MAX = 64;

/**
 * Validates requested permissions against the catalogue and returns them sorted and unique. A key
 * can never grant what its creator does not hold (immich's api-key rule): checked at creation
 * and again at rotation, since rotating shows a fresh copy of the key to whoever rotates it.
 */
export function grantablePermissions(requested: readonly string[], held: readonly string[]): Permission[] {
  if (requested.length === 0 || requested.length > API_KEY_PERMISSIONS_MAX) {
    throw new ApiKeyError('INVALID_PERMISSIONS', { countMin: 1, countMax: API_KEY_PERMISSIONS_MAX });
  }
  const unknown = requested.filter((permission) => !isPermission(permission));
  if (unknown.length > 0) throw new ApiKeyError('INVALID_PERMISSIONS', { unknown: unknown.slice(0, 10) });
  const heldSet = new Set(held);
  const notHeld = requested.filter((permission) => !heldSet.has(permission));
  if (notHeld.length > 0) throw new ApiKeyError('PERMISSION_NOT_HELD', { notHeld: [...new Set(notHeld)] });
  return [...new Set(requested as readonly Permission[])].sort();
}

/** Optional; when given, in the future and within the lifetime limit. */
export function validatedExpiry(expiresAt: Date | null | undefined, now: Date): Date | null {
  if (expiresAt === null || expiresAt === undefined) return null;
  const lifetimeSeconds = (expiresAt.getTime() - now.getTime()) / 1000;
  if (!Number.isFinite(lifetimeSeconds) || lifetimeSeconds <= 0 || lifetimeSeconds > API_KEY_LIFETIME_SECONDS_MAX) {
    throw new ApiKeyError('INVALID_EXPIRY', { lifetimeSecondsMax: API_KEY_LIFETIME_SECONDS_MAX });
  }
  return expiresAt;
}

/**
 * When the old key stops after a rotation: now + overlap (default 24 h, 0..7 days), never after
 * the old key's own expiry. Zero means the old key stops at once, as with a suspected leak.
 */
export function rotationOverlapEndsAt(
  record: Pick<ApiKeyRecord, 'expiresAt'>,
  now: Date,
  overlapSeconds: number = ROTATION_OVERLAP_SECONDS_DEFAULT,
): Date {
  if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > ROTATION_OVERLAP_SECONDS_MAX) {
    throw new ApiKeyError('INVALID_OVERLAP', { overlapSecondsMin: 0, overlapSecondsMax: ROTATION_OVERLAP_SECONDS_MAX });
  }
  const endsAtMs = now.getTime() + overlapSeconds * 1000;
  return new Date(record.expiresAt === null ? endsAtMs : Math.min(endsAtMs, record.expiresAt.getTime()));
}

export type ApiKeyUsability = 'usable' | 'expired' | 'revoked' | 'rotated_out';

/** The whole lifecycle at one instant: revocation is immediate, expiry and overlaps end exactly. */
export function apiKeyUsability(
  record: Pick<ApiKeyRecord, 'status' | 'expiresAt' | 'overlapEndsAt'>,
  now: Date,
): ApiKeyUsability {
  if (record.status === 'revoked') return 'revoked';
  if (record.status === 'rotating' && (record.overlapEndsAt === null || now >= record.overlapEndsAt)) {
    return 'rotated_out';
  }
  if (record.expiresAt !== null && now >= record.expiresAt) return 'expired';
  return 'usable';
}
