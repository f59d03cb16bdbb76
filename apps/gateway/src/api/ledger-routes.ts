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
} from '@strongroom/contracts';
import type { FastifyRequest } from 'fastify';
import type { ApiRoute } from './api-route-table';
import { bodyObject, pageOf, params, presentQuery } from './route-input';

const LEDGER = '/v1/tenants/:tenantId/ledger';
/** The bus's ceiling (BusClient caps a call at 30 s). */
const EXPORT_TIMEOUT_MS = 30_000;

const accountOf = (request: FastifyRequest) => ({
  tenantId: params(request).tenantId,
  accountId: params(request).accountId,
});

/**
 * The ledger (ledger service): accounts, balances now and as of a past instant, history, and
 * transfers. A credential acts on its own environment's ledger, so no route names one.
 */
export const LEDGER_ROUTES: readonly ApiRoute[] = [
  {
    method: 'POST',
    url: `${LEDGER}/accounts`,
    contract: createLedgerAccount,
    status: 201,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId }),
  },
  {
    method: 'GET',
    url: `${LEDGER}/accounts`,
    contract: listLedgerAccounts,
    query: ['limit', 'cursor', 'currency'],
    input: (request) => ({ tenantId: params(request).tenantId, ...pageOf(request, ['cursor', 'currency']) }),
  },
  {
    method: 'GET',
    url: `${LEDGER}/accounts/:accountId`,
    contract: getLedgerAccount,
    input: accountOf,
  },
  {
    method: 'POST',
    url: `${LEDGER}/accounts/:accountId/closure`,
    contract: closeLedgerAccount,
    input: accountOf,
  },
  {
    method: 'GET',
    url: `${LEDGER}/accounts/:accountId/balance`,
    contract: getLedgerBalance,
    query: ['asOf'],
    input: (request) => ({ ...accountOf(request), ...presentQuery(request, ['asOf']) }),
  },
  {
    method: 'GET',
    url: `${LEDGER}/accounts/:accountId/entries`,
    contract: listLedgerEntries,
    query: ['limit', 'cursor', 'from', 'to'],
    input: (request) => ({ ...accountOf(request), ...pageOf(request, ['cursor', 'from', 'to']) }),
  },
  {
    // One transfer, the body is its command; a refusal is a problem (404 or 409 with the result code as reason).
    method: 'POST',
    url: `${LEDGER}/transfers`,
    contract: createTransfer,
    status: 201,
    retrySafe: true,
    bodyField: 'transfer',
    input: (request) => ({ tenantId: params(request).tenantId, transfer: request.body }),
  },
  {
    // A batch answers 200 with a result per transfer, whether each was applied or refused.
    method: 'POST',
    url: `${LEDGER}/transfer-batches`,
    contract: createTransfers,
    retrySafe: true,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId }),
  },
  {
    method: 'GET',
    url: `${LEDGER}/transfers/:transferId`,
    contract: getTransfer,
    input: (request) => ({ tenantId: params(request).tenantId, transferId: params(request).transferId }),
  },
  {
    method: 'GET',
    url: `${LEDGER}/transfers`,
    contract: findTransfersByReference,
    query: ['reference', 'limit', 'cursor'],
    input: (request) => ({ tenantId: params(request).tenantId, ...pageOf(request, ['reference', 'cursor']) }),
  },
  {
    method: 'POST',
    url: `${LEDGER}/exports`,
    contract: createLedgerExport,
    // Reads a whole period in one snapshot: seconds for millions of entries.
    timeoutMs: EXPORT_TIMEOUT_MS,
    input: (request) => ({ ...bodyObject(request), tenantId: params(request).tenantId }),
  },
  {
    method: 'GET',
    url: `${LEDGER}/exports/entries`,
    contract: listLedgerExportEntries,
    query: ['from', 'to', 'limit', 'cursor'],
    input: (request) => ({ tenantId: params(request).tenantId, ...pageOf(request, ['from', 'to', 'cursor']) }),
  },
  {
    method: 'GET',
    url: `${LEDGER}/exports/balances`,
    contract: listLedgerExportBalances,
    query: ['from', 'to', 'limit', 'cursor'],
    input: (request) => ({ tenantId: params(request).tenantId, ...pageOf(request, ['from', 'to', 'cursor']) }),
  },
  {
    // The platform's keys: a verifier pins them rather than trust the key shipped with an export.
    method: 'GET',
    url: `${LEDGER}/export-signing-keys`,
    contract: getLedgerExportSigningKeys,
    input: (request) => ({ tenantId: params(request).tenantId }),
  },
];
