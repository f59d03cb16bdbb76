import { Module } from '@nestjs/common';
import { healthControllerFor, RegionalDatabases, regionalDatabasesProvider } from '@strongroom/platform';
import { migrations } from '../migrations';
import { AccountsHandler } from './accounts/accounts.handler';
import { AccountsRepository } from './accounts/accounts.repository';
import { ExportSigner } from './exports/export-signing';
import { ExportsHandler } from './exports/exports.handler';
import { ExportsRepository } from './exports/exports.repository';
import { AuditPublisher } from './ledger-audit';
import { PendingExpiry } from './transfers/pending-expiry';
import { TransferBatcher } from './transfers/transfer-batcher';
import { TransfersHandler } from './transfers/transfers.handler';
import { TransfersRepository } from './transfers/transfers.repository';

/**
 * The ledger service: accounts, transfers (immediate, two-phase, reversals, linked batches) and
 * balances now and in the past, and signed audit exports of a period, each tenant's in its
 * region's database (docs/residency.md).
 */
@Module({
  controllers: [healthControllerFor('ledger'), AccountsHandler, TransfersHandler, ExportsHandler],
  providers: [
    regionalDatabasesProvider({ service: 'ledger', migrations }),
    AccountsRepository,
    TransfersRepository,
    TransferBatcher,
    PendingExpiry,
    ExportsRepository,
    ExportSigner,
    AuditPublisher,
  ],
  exports: [RegionalDatabases],
})
export class LedgerModule {}
