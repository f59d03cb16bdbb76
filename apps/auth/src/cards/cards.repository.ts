import { type AuditEventInput, cardLocked, cardUnlocked } from '@strongroom/contracts';
import { conflictOnDuplicate, enqueueAudit, enqueueEvent, withTenant } from '@strongroom/platform';
import type { DataSource, EntityManager } from 'typeorm';
import { AUTH_AUDIT_EMITTER } from '../auth-audit';
import type { CardAudit, CardPinState, CardRepository, NewCard, StoredCard } from './cards.service';

interface CardRow {
  id: string;
  tenant_id: string;
  owner_user_id: string | null;
  last4: string;
  pin_hash: string;
  consecutive_failures: number;
  locked_at: Date | null;
  created_at: Date;
}

const COLUMNS = 'id, tenant_id, owner_user_id, last4, pin_hash, consecutive_failures, locked_at, created_at';

// UPDATE … RETURNING is wrapped in `WITH … SELECT`: TypeORM answers a bare UPDATE with [rows, count].

/** Raised inside an insert transaction to roll it back; never leaves this file. */
class DuplicateCard extends Error {}

/**
 * `cards` in Postgres, every statement in the card's tenant context (RLS: another tenant's card
 * is simply not there). The card reference is written, never read back; events go to the outbox
 * in the transaction of the change they describe.
 */
export class PgCardRepository implements CardRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(
    card: NewCard,
    knownRefs: readonly string[],
    audit: readonly AuditEventInput[],
  ): Promise<StoredCard | null> {
    try {
      return await conflictOnDuplicate(
        () =>
          withTenant(this.dataSource, card.tenantId, async (manager) => {
            // The same card under an older tokenization key has another reference: look for all recent ones.
            const existing: unknown[] = await manager.query('SELECT 1 FROM cards WHERE card_ref = ANY($1::text[])', [
              [...knownRefs],
            ]);
            if (existing.length > 0) throw new DuplicateCard();
            const rows: CardRow[] = await manager.query(
              `INSERT INTO cards (id, tenant_id, owner_user_id, card_ref, last4, pin_hash)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
              [card.id, card.tenantId, card.ownerUserId, card.cardRef, card.last4, card.pinHash],
            );
            await enqueueAudit(manager, AUTH_AUDIT_EMITTER, audit);
            return storedCardOf(rows[0]!);
          }),
        // The UNIQUE (tenant_id, card_ref) index settles two concurrent registrations of one card.
        () => new DuplicateCard(),
      );
    } catch (error) {
      if (error instanceof DuplicateCard) return null;
      throw error;
    }
  }

  async find(tenantId: string, cardId: string): Promise<StoredCard | null> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const rows: CardRow[] = await manager.query(`SELECT ${COLUMNS} FROM cards WHERE id = $1`, [cardId]);
      return rows[0] === undefined ? null : storedCardOf(rows[0]);
    });
  }

  async replacePinState(
    tenantId: string,
    cardId: string,
    expected: CardPinState,
    next: CardPinState,
    audit: CardAudit,
  ): Promise<boolean> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      // The WHERE is the old state: under READ COMMITTED a concurrent writer's UPDATE waits for
      // ours, re-checks the WHERE on the new row, and finds it changed (0 rows): it lost the round.
      const rows: CardRow[] = await manager.query(
        `WITH updated AS (
           UPDATE cards SET pin_hash = $3, consecutive_failures = $4, locked_at = $5, updated_at = $6
            WHERE id = $1 AND pin_hash = $2 AND consecutive_failures = $7
              AND locked_at IS NOT DISTINCT FROM $8::timestamptz
            RETURNING ${COLUMNS}
         ) SELECT * FROM updated`,
        [
          cardId,
          expected.pinHash,
          next.pinHash,
          next.consecutiveFailures,
          next.lockedAt,
          audit.at,
          expected.consecutiveFailures,
          expected.lockedAt,
        ],
      );
      const row = rows[0];
      if (row === undefined) return false;
      if (expected.lockedAt === null && row.locked_at !== null) await enqueueLocked(manager, row, audit);
      await enqueueAudit(manager, AUTH_AUDIT_EMITTER, audit.events);
      return true;
    });
  }

  async unlock(tenantId: string, cardId: string, audit: CardAudit): Promise<StoredCard | null> {
    return withTenant(this.dataSource, tenantId, async (manager) => {
      const before: Array<{ locked_at: Date | null }> = await manager.query(
        'SELECT locked_at FROM cards WHERE id = $1 FOR UPDATE',
        [cardId],
      );
      if (before[0] === undefined) return null;
      const rows: CardRow[] = await manager.query(
        `WITH updated AS (
           UPDATE cards SET consecutive_failures = 0, locked_at = NULL, updated_at = $2 WHERE id = $1
           RETURNING ${COLUMNS}
         ) SELECT * FROM updated`,
        [cardId, audit.at],
      );
      const row = rows[0]!;
      // An administrator's act on the card, recorded whether it was locked or only counting failures.
      await enqueueAudit(manager, AUTH_AUDIT_EMITTER, audit.events);
      // Unlocking an unlocked card only clears its count: no `cards.unlocked` event for it.
      if (before[0].locked_at !== null) {
        await enqueueEvent(
          manager,
          cardUnlocked,
          {
            cardId: row.id,
            tenantId: row.tenant_id,
            ownerUserId: row.owner_user_id,
            unlockedAt: audit.at.toISOString(),
            actor: audit.actor,
          },
          { tenantId: row.tenant_id },
        );
      }
      return storedCardOf(row);
    });
  }
}

async function enqueueLocked(manager: EntityManager, row: CardRow, audit: CardAudit): Promise<void> {
  await enqueueEvent(
    manager,
    cardLocked,
    {
      cardId: row.id,
      tenantId: row.tenant_id,
      ownerUserId: row.owner_user_id,
      consecutiveFailures: row.consecutive_failures,
      lockedAt: row.locked_at!.toISOString(),
      actor: audit.actor,
    },
    { tenantId: row.tenant_id },
  );
}

function storedCardOf(row: CardRow): StoredCard {
  return {
    cardId: row.id,
    tenantId: row.tenant_id,
    ownerUserId: row.owner_user_id,
    last4: row.last4,
    createdAt: row.created_at,
    pin: {
      pinHash: row.pin_hash,
      consecutiveFailures: row.consecutive_failures,
      lockedAt: row.locked_at === null ? null : row.locked_at.toISOString(),
    },
  };
}
