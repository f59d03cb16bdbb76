import type { AuditEventInput } from '@strongroom/contracts';
import { type AuditTrail, authAuditEvent } from '../auth-audit';
import type { ApiKeyRecord } from './api-key-record';

/**
 * The audit events of API-key management (issue 7): what a key may do and until when, never its
 * secret, its hash or its signing secret. Written with the change, by the repository.
 */
function grantDetails(record: ApiKeyRecord): AuditEventInput['details'] {
  return {
    permissions: [...record.permissions],
    expiresAt: record.expiresAt?.toISOString() ?? null,
    rateLimitTier: record.rateLimitTier,
    ipAllowlistId: record.ipAllowlistId,
  };
}

function keyEvent(
  trail: AuditTrail,
  record: ApiKeyRecord,
  action: 'auth.api-key.create' | 'auth.api-key.rotate' | 'auth.api-key.revoke',
  details: AuditEventInput['details'],
  at: Date,
): AuditEventInput {
  return authAuditEvent(trail, {
    tenantId: record.tenantId,
    environment: record.environment,
    occurredAt: at.toISOString(),
    action,
    resource: { type: 'api_key', id: record.keyId },
    details,
  });
}

export function apiKeyCreatedAuditEvent(trail: AuditTrail, record: ApiKeyRecord): AuditEventInput {
  return keyEvent(trail, record, 'auth.api-key.create', grantDetails(record), record.createdAt);
}

export function apiKeyRotatedAuditEvent(
  trail: AuditTrail,
  previous: ApiKeyRecord,
  next: ApiKeyRecord,
  overlapEndsAt: Date,
): AuditEventInput {
  return keyEvent(
    trail,
    previous,
    'auth.api-key.rotate',
    { replacedByKeyId: next.keyId, overlapEndsAt: overlapEndsAt.toISOString(), ...grantDetails(next) },
    next.createdAt,
  );
}

export function apiKeyRevokedAuditEvent(trail: AuditTrail, record: ApiKeyRecord, revokedAt: Date): AuditEventInput {
  return keyEvent(trail, record, 'auth.api-key.revoke', { previousStatus: record.status }, revokedAt);
}
