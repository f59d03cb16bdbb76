import { ACCESS_TOKEN_TTL_SECONDS_MAX, tokensRevoked } from '@strongroom/contracts';
import { ENQUEUE_BATCH_ROWS_MAX, enqueueEvents } from '@strongroom/platform';
import type { EntityManager } from 'typeorm';

/**
 * Ends the access tokens of users whose access narrowed, in the caller's transaction: records
 * the moment on each user (token issuance waits out that second, see user-access.ts) and writes
 * one `tokens.revoked` (scope `subject`) per user to the outbox, which every service applies
 * within a second. Refresh grants are kept: the client refreshes and gets the new permissions.
 *
 * The caller must hold the users' rows locked (FOR UPDATE) already: the moment is taken after the
 * lock, so a token issuance that read the old roles (it reads them FOR SHARE) did so before it,
 * and its token, issued earlier still, is covered (RevocationList: issued at or before).
 */
export async function revokeAccessOf(manager: EntityManager, tenantId: string, userIds: readonly string[]) {
  if (userIds.length === 0) return null;
  const revokedAt = new Date();
  await manager.query('UPDATE users SET access_changed_at = $2 WHERE id = ANY($1::uuid[])', [userIds, revokedAt]);
  const times = {
    revokedAt: revokedAt.toISOString(),
    expiresAt: new Date(revokedAt.getTime() + ACCESS_TOKEN_TTL_SECONDS_MAX * 1000).toISOString(),
  };
  for (let start = 0; start < userIds.length; start += ENQUEUE_BATCH_ROWS_MAX) {
    const events = userIds
      .slice(start, start + ENQUEUE_BATCH_ROWS_MAX)
      .map((subject) => ({ payload: { scope: 'subject' as const, subject, ...times }, tenantId }));
    await enqueueEvents(manager, tokensRevoked, events);
  }
  return revokedAt;
}
