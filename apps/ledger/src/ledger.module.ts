import { Module } from '@nestjs/common';
import { healthControllerFor, RegionalDatabases, regionalDatabasesProvider } from '@strongroom/platform';
import { migrations } from '../migrations';
import { AccountsHandler } from './accounts/accounts.handler';
import { AccountsRepository } from './accounts/accounts.repository';
import { PendingExpiry } from './transfers/pending-expiry';
import { TransferBatcher } from './transfers/transfer-batcher';
import { TransfersHandler } from './transfers/transfers.handler';
import { TransfersRepository } from './transfers/transfers.repository';

/**
 * The ledger service: accounts, transfers (immediate, two-phase, reversals, linked batches) and
 * balances now and in the past, each tenant's in its region's database (docs/residency.md).
 */
@Module({
  controllers: [healthControllerFor('ledger'), AccountsHandler, TransfersHandler],
  providers: [
    regionalDatabasesProvider({ service: 'ledger', migrations }),
    AccountsRepository,
    TransfersRepository,
    TransferBatcher,
    PendingExpiry,
  ],
  exports: [RegionalDatabases],
})
export class LedgerModule {}
