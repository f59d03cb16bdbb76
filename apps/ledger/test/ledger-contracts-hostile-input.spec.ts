import {
  closeLedgerAccount,
  createLedgerAccount,
  createLedgerExport,
  createTransfer,
  createTransfers,
  findTransfersByReference,
  getLedgerAccount,
  getLedgerBalance,
  getLedgerExportSigningKeys,
  getTransfer,
  listLedgerAccounts,
  listLedgerEntries,
  listLedgerExportBalances,
  listLedgerExportEntries,
  type RequestContract,
} from '@strongroom/contracts';
import fc from 'fast-check';

const CONTRACTS: readonly RequestContract[] = [
  createLedgerAccount,
  getLedgerAccount,
  listLedgerAccounts,
  closeLedgerAccount,
  getLedgerBalance,
  listLedgerEntries,
  createTransfer,
  createTransfers,
  getTransfer,
  findTransfersByReference,
  createLedgerExport,
  listLedgerExportEntries,
  listLedgerExportBalances,
  getLedgerExportSigningKeys,
];

const TENANT = '5f0c2a3e-1b2c-4d5e-8f90-123456789abc';
/** Strings a refinement might turn into a number, a date or a bigint and throw on. */
const HOSTILE = fc.oneof(
  fc.constantFrom('abc', '1e5', '1.5', '-1', '', ' ', '9'.repeat(40), '0000-01-01T00:00:00Z', '\u0000', '\uD800'),
  fc.string(),
  fc.anything(),
);

/**
 * A refinement runs even after its field failed its pattern (zod 4): one that converts without
 * checking throws out of safeParse, and the bus answers INTERNAL instead of VALIDATION.
 */
describe('ledger contracts on hostile input', () => {
  it.each(CONTRACTS.map((contract) => [contract.subject, contract] as const))(
    '%s answers every input with a parse result, never a throw',
    (_subject, contract) => {
      fc.assert(
        fc.property(
          fc.dictionary(
            fc.constantFrom(
              'accountId',
              'transferId',
              'cursor',
              'limit',
              'asOf',
              'from',
              'to',
              'reference',
              'code',
              'currency',
              'transfer',
              'transfers',
              'id',
              'type',
              'metadata',
              'postings',
              'name',
            ),
            HOSTILE,
          ),
          fc.array(
            fc.record({
              accountId: HOSTILE,
              direction: fc.constantFrom('debit', 'credit'),
              amount: HOSTILE,
              currency: HOSTILE,
            }),
            { maxLength: 3 },
          ),
          (fields, postings) => {
            const transfer = { type: 'immediate', id: TENANT, postings };
            const input = { tenantId: TENANT, ...fields };
            expect(() => contract.request.safeParse(input)).not.toThrow();
            expect(() => contract.request.safeParse({ ...input, transfer, transfers: [transfer] })).not.toThrow();
          },
        ),
        { numRuns: 300 },
      );
    },
  );
});
