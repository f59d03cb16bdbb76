import { Controller } from '@nestjs/common';
import {
  createTransfer,
  createTransfers,
  findTransfersByReference,
  getTransfer,
  REVERSE_TRANSFERS_PERMISSION,
  type RequestOf,
  type ResponseOf,
  TRANSFER_REFUSAL_ERRORS,
  type Transfer,
  type TransferCommand,
  type TransferResult,
} from '@strongroom/contracts';
import { type BusRequestContext, Handles, PlatformError } from '@strongroom/platform';
import { AuditPublisher, type AuditTrail, auditTrailOf, ledgerAuditEvent } from '../ledger-audit';
import { actorOf, type LedgerScope, ledgerScopeOf } from '../ledger-scope';
import { TransferBatcher } from './transfer-batcher';
import { TransfersRepository } from './transfers.repository';

@Controller()
export class TransfersHandler {
  constructor(
    private readonly transfers: TransfersRepository,
    private readonly batcher: TransferBatcher,
    private readonly audit: AuditPublisher,
  ) {}

  @Handles(createTransfers)
  async createBatch(
    input: RequestOf<typeof createTransfers>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof createTransfers>> {
    const scope = ledgerScopeOf(context, input.tenantId);
    const trail = auditTrailOf(context);
    this.assertMayReverse(scope, input.transfers, context, trail);
    const actor = actorOf(context);
    // Each transfer's audit event, applied or refused, is written by the batch's own transaction.
    const { results } = await this.transfers.applyBatch(
      scope,
      input.transfers.map((command) => ({ command, actor, trail })),
    );
    return { results };
  }

  @Handles(createTransfer)
  async create(input: RequestOf<typeof createTransfer>, context: BusRequestContext): Promise<Transfer> {
    const scope = ledgerScopeOf(context, input.tenantId);
    const trail = auditTrailOf(context);
    this.assertMayReverse(scope, [input.transfer], context, trail);
    const { result, transfer: applied } = await this.batcher.submit(scope, {
      command: input.transfer,
      actor: actorOf(context),
      trail,
    });
    if (result.result !== 'ok' && result.result !== 'exists') throw refusalOf(result, result.result);
    if (applied !== undefined) return applied;
    // Applied before (a retry): the caller gets the transfer as stored.
    const transfer = await this.transfers.find(scope, input.transfer.id);
    if (transfer === undefined) throw PlatformError.internal('An applied transfer could not be read back');
    return transfer;
  }

  @Handles(getTransfer)
  async get(input: RequestOf<typeof getTransfer>, context: BusRequestContext): Promise<Transfer> {
    const transfer = await this.transfers.find(ledgerScopeOf(context, input.tenantId), input.transferId);
    if (transfer === undefined) throw PlatformError.notFound('Transfer', input.transferId);
    return transfer;
  }

  @Handles(findTransfersByReference)
  async findByReference(
    input: RequestOf<typeof findTransfersByReference>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof findTransfersByReference>> {
    const { tenantId, reference, limit, cursor } = input;
    return this.transfers.findByReference(ledgerScopeOf(context, tenantId), reference, {
      limit,
      ...(cursor !== undefined ? { cursor } : {}),
    });
  }

  /**
   * A reversal corrects the books: it needs its own permission besides ledger.transfers.create.
   * Refused, nothing of the batch is applied, and each reversal it asked for is recorded as denied.
   */
  private assertMayReverse(
    scope: LedgerScope,
    commands: readonly TransferCommand[],
    context: BusRequestContext,
    trail: AuditTrail,
  ): void {
    const reversals = commands.filter((command) => command.type === 'reversal');
    if (reversals.length === 0) return;
    if (context.principal?.permissions.has(REVERSE_TRANSFERS_PERMISSION)) return;
    this.audit.publish(
      reversals.map((command) =>
        ledgerAuditEvent(trail, {
          ...scope,
          action: `ledger.transfer.${command.category}`,
          resource: { type: 'transfer', id: command.id },
          outcome: 'denied',
          reason: 'PERMISSION_NOT_HELD',
          details: { type: command.type, permission: REVERSE_TRANSFERS_PERMISSION },
        }),
      ),
    );
    throw PlatformError.forbidden(`The caller lacks the permission ${REVERSE_TRANSFERS_PERMISSION}`, {
      permission: REVERSE_TRANSFERS_PERMISSION,
    });
  }
}

function refusalOf(result: TransferResult, code: keyof typeof TRANSFER_REFUSAL_ERRORS): PlatformError {
  const details = { reason: code.toUpperCase(), ...(result.accountId ? { accountId: result.accountId } : {}) };
  const message = `The transfer was refused: ${code.replaceAll('_', ' ')}`;
  return new PlatformError(TRANSFER_REFUSAL_ERRORS[code], message, details);
}
