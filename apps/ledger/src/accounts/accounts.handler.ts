import { Controller } from '@nestjs/common';
import {
  closeLedgerAccount,
  createLedgerAccount,
  getLedgerAccount,
  getLedgerBalance,
  type LedgerAccount,
  type LedgerBalance,
  listLedgerAccounts,
  listLedgerEntries,
  type RequestOf,
  type ResponseOf,
} from '@strongroom/contracts';
import { type BusRequestContext, Handles, PlatformError } from '@strongroom/platform';
import { AuditPublisher, auditTrailOf, ledgerAuditEvent } from '../ledger-audit';
import { ledgerScopeOf } from '../ledger-scope';
import { AccountsRepository } from './accounts.repository';

function found<T>(value: T | undefined, accountId: string): T {
  if (value === undefined) throw PlatformError.notFound('Ledger account', accountId);
  return value;
}

@Controller()
export class AccountsHandler {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly audit: AuditPublisher,
  ) {}

  /** Opened: recorded with the account; refused (CONFLICT ACCOUNT_EXISTS): recorded as a failure. */
  @Handles(createLedgerAccount)
  create(input: RequestOf<typeof createLedgerAccount>, context: BusRequestContext): Promise<LedgerAccount> {
    const scope = ledgerScopeOf(context, input.tenantId);
    const trail = auditTrailOf(context);
    return this.audit.refusals(
      () => this.accounts.create(scope, input, trail),
      (refusal) => [
        ledgerAuditEvent(trail, {
          ...scope,
          action: 'ledger.account.create',
          resource: { type: 'ledger_account', id: input.id ?? 'new' },
          ...refusal,
        }),
      ],
    );
  }

  @Handles(getLedgerAccount)
  async get(input: RequestOf<typeof getLedgerAccount>, context: BusRequestContext): Promise<LedgerAccount> {
    return found(await this.accounts.find(ledgerScopeOf(context, input.tenantId), input.accountId), input.accountId);
  }

  @Handles(listLedgerAccounts)
  list(
    input: RequestOf<typeof listLedgerAccounts>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listLedgerAccounts>> {
    const { tenantId, ...page } = input;
    return this.accounts.list(ledgerScopeOf(context, tenantId), page);
  }

  /** Closed: recorded with the change; refused (NOT_FOUND, ACCOUNT_HAS_PENDING): recorded as a failure. */
  @Handles(closeLedgerAccount)
  async close(input: RequestOf<typeof closeLedgerAccount>, context: BusRequestContext): Promise<LedgerAccount> {
    const scope = ledgerScopeOf(context, input.tenantId);
    const trail = auditTrailOf(context);
    return this.audit.refusals(
      async () => found(await this.accounts.close(scope, input.accountId, trail), input.accountId),
      (refusal) => [
        ledgerAuditEvent(trail, {
          ...scope,
          action: 'ledger.account.close',
          resource: { type: 'ledger_account', id: input.accountId },
          ...refusal,
        }),
      ],
    );
  }

  @Handles(getLedgerBalance)
  async balance(input: RequestOf<typeof getLedgerBalance>, context: BusRequestContext): Promise<LedgerBalance> {
    const asOf = input.asOf === undefined ? undefined : new Date(input.asOf);
    const scope = ledgerScopeOf(context, input.tenantId);
    return found(await this.accounts.balanceAsOf(scope, input.accountId, asOf), input.accountId);
  }

  @Handles(listLedgerEntries)
  async entries(
    input: RequestOf<typeof listLedgerEntries>,
    context: BusRequestContext,
  ): Promise<ResponseOf<typeof listLedgerEntries>> {
    const { tenantId, accountId, limit, cursor, from, to } = input;
    const page = {
      limit,
      ...(cursor !== undefined ? { cursor } : {}),
      ...(from !== undefined ? { from: new Date(from) } : {}),
      ...(to !== undefined ? { to: new Date(to) } : {}),
    };
    return found(await this.accounts.entries(ledgerScopeOf(context, tenantId), accountId, page), accountId);
  }
}
