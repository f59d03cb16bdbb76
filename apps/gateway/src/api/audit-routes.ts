import {
  createAuditCheckpoint,
  createAuditExport,
  getAuditLegalHold,
  getAuditSigningKeys,
  listAuditCheckpoints,
  listAuditExportRecords,
  listAuditRecords,
  placeAuditLegalHold,
  releaseAuditLegalHold,
  verifyAuditChain,
} from '@strongroom/contracts';
import type { Principal } from '@strongroom/platform';
import type { FastifyRequest } from 'fastify';
import type { ApiRoute } from './api-route-table';
import { bodyObject, numberIn, pageOf, presentQuery, queryObject } from './route-input';

const AUDIT = '/v1/audit';
/** The bus's ceiling (BusClient caps a call at 30 s): verifying or exporting a large chain reads all of it. */
const LONG_CALL_TIMEOUT_MS = 30_000;

/**
 * The tenant whose trail a call acts on: the credential's own. `?tenantId=` names another, which
 * only a platform credential may (the audit service answers any other principal NOT_FOUND,
 * exactly as for a tenant that does not exist).
 */
const TENANT_QUERY = 'tenantId';
const tenantOf = (request: FastifyRequest, principal: Principal | undefined) => ({
  tenantId: queryObject(request)[TENANT_QUERY] ?? principal?.tenantId,
});

const RECORD_FILTERS = [
  'from',
  'to',
  'actorType',
  'actorId',
  'action',
  'resourceType',
  'resourceId',
  'outcome',
  'requestId',
] as const;

/**
 * The audit trail of the caller's tenant (audit service, issue 7): query, verification, signed
 * checkpoints and the keys to check them, period exports, and the legal hold.
 */
export const AUDIT_ROUTES: readonly ApiRoute[] = [
  {
    // Newest first; every filter is a query parameter, the cursor the previous page's nextCursor.
    method: 'GET',
    url: `${AUDIT}/records`,
    contract: listAuditRecords,
    query: [TENANT_QUERY, ...RECORD_FILTERS, 'limit', 'cursor'],
    input: (request, principal) => ({
      ...tenantOf(request, principal),
      ...pageOf(request, [...RECORD_FILTERS, 'cursor']),
    }),
  },
  {
    method: 'GET',
    url: `${AUDIT}/verification`,
    contract: verifyAuditChain,
    query: [TENANT_QUERY],
    // Recomputes every hash of the chain: seconds for millions of records.
    timeoutMs: LONG_CALL_TIMEOUT_MS,
    input: tenantOf,
  },
  {
    method: 'POST',
    url: `${AUDIT}/checkpoints`,
    contract: createAuditCheckpoint,
    status: 201,
    query: [TENANT_QUERY],
    input: tenantOf,
  },
  {
    method: 'GET',
    url: `${AUDIT}/checkpoints`,
    contract: listAuditCheckpoints,
    query: [TENANT_QUERY, 'limit', 'cursor'],
    input: (request, principal) => ({ ...tenantOf(request, principal), ...pageOf(request, ['cursor']) }),
  },
  {
    // The platform's keys: a verifier pins them rather than trust the keys shipped with an export.
    method: 'GET',
    url: `${AUDIT}/signing-keys`,
    contract: getAuditSigningKeys,
    query: [TENANT_QUERY],
    input: tenantOf,
  },
  {
    method: 'POST',
    url: `${AUDIT}/exports`,
    contract: createAuditExport,
    query: [TENANT_QUERY],
    // Finds the period's seqs and signs a checkpoint at its last record.
    timeoutMs: LONG_CALL_TIMEOUT_MS,
    input: (request, principal) => ({ ...bodyObject(request), ...tenantOf(request, principal) }),
  },
  {
    // The documents of an export, ascending seq: firstSeq and lastSeq from the export's answer.
    method: 'GET',
    url: `${AUDIT}/exports/records`,
    contract: listAuditExportRecords,
    query: [TENANT_QUERY, 'firstSeq', 'lastSeq', 'limit', 'cursor'],
    input: (request, principal) => {
      const { firstSeq, lastSeq } = presentQuery(request, ['firstSeq', 'lastSeq']);
      return {
        ...tenantOf(request, principal),
        ...pageOf(request, ['cursor']),
        ...(firstSeq !== undefined ? { firstSeq: numberIn(firstSeq) } : {}),
        ...(lastSeq !== undefined ? { lastSeq: numberIn(lastSeq) } : {}),
      };
    },
  },
  {
    method: 'GET',
    url: `${AUDIT}/legal-hold`,
    contract: getAuditLegalHold,
    query: [TENANT_QUERY],
    input: tenantOf,
  },
  {
    method: 'PUT',
    url: `${AUDIT}/legal-hold`,
    contract: placeAuditLegalHold,
    query: [TENANT_QUERY],
    input: (request, principal) => ({ ...bodyObject(request), ...tenantOf(request, principal) }),
  },
  {
    method: 'DELETE',
    url: `${AUDIT}/legal-hold`,
    contract: releaseAuditLegalHold,
    query: [TENANT_QUERY],
    input: tenantOf,
  },
];
