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
import { actorOf, ledgerScopeOf } from '../ledger-scope';
import { TransferBatcher } from './transfer-batcher';
import { TransfersRepository } from './transfers.repository';

@Controller()
export class TransfersHandler {
  constructor(
    private readonly transfers: TransfersRepository,
    private readonly batcher: TransferBatcher,
  ) {}

  @Handles(createTransfers)
  async createBatch(
    input: RequestOf<typeof createTransfers>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof createTransfers>> {
    const scope = ledgerScopeOf(context, input.tenantId);
    assertMayReverse(input.transfers, context);
    const actor = actorOf(context);
    const { results } = await this.transfers.applyBatch(
      scope,
      input.transfers.map((command) => ({ command, actor })),
    );
    return { results };
  }

  @Handles(createTransfer)
  async create(input: RequestOf<typeof createTransfer>, context: BusRequestContext): Promise<Transfer> {
    const scope = ledgerScopeOf(context, input.tenantId);
    assertMayReverse([input.transfer], context);
    const { result, transfer: applied } = await this.batcher.submit(scope, {
      command: input.transfer,
      actor: actorOf(context),
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
}

/** A reversal corrects the books: it needs its own permission besides ledger.transfers.create. */
function assertMayReverse(commands: readonly TransferCommand[], context: BusRequestContext): void {
  if (!commands.some((command) => command.type === 'reversal')) return;
  if (context.principal?.permissions.has(REVERSE_TRANSFERS_PERMISSION)) return;
  throw PlatformError.forbidden(`The caller lacks the permission ${REVERSE_TRANSFERS_PERMISSION}`, {
    permission: REVERSE_TRANSFERS_PERMISSION,
  });
}

function refusalOf(result: TransferResult, code: keyof typeof TRANSFER_REFUSAL_ERRORS): PlatformError {
  const details = { reason: code.toUpperCase(), ...(result.accountId ? { accountId: result.accountId } : {}) };
  const message = `The transfer was refused: ${code.replaceAll('_', ' ')}`;
  return new PlatformError(TRANSFER_REFUSAL_ERRORS[code], message, details);
}
