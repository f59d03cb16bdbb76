import {
  createLedgerExport,
  listLedgerExportBalances,
  listLedgerExportEntries,
  type RequestContract,
  type RequestInputOf,
  type ResponseOf,
} from '@strongroom/contracts';
import type { BusClient } from '@strongroom/platform';

/** The three ledger calls an export is assembled from. */
export interface LedgerExportApi {
  create(input: RequestInputOf<typeof createLedgerExport>): Promise<ResponseOf<typeof createLedgerExport>>;
  balances(
    input: RequestInputOf<typeof listLedgerExportBalances>,
  ): Promise<ResponseOf<typeof listLedgerExportBalances>>;
  entries(input: RequestInputOf<typeof listLedgerExportEntries>): Promise<ResponseOf<typeof listLedgerExportEntries>>;
}

export type LedgerExportErrorCode = 'EXPORT_REFUSED' | 'EXPORT_CHANGED' | 'EXPORT_EXISTS' | 'EXPORT_UNREADABLE';

/** What went wrong while exporting, with a code `strongroom` prints ([EXPORT_CHANGED] …). */
export class LedgerExportError extends Error {
  override readonly name = 'LedgerExportError';
  constructor(
    readonly code: LedgerExportErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Computing a manifest reads the whole period: allow it the bus's longest call. */
const CREATE_TIMEOUT_MS = 30_000;

/** Over the bus, forwarding a caller's access token (a service, an operator with a bus certificate, tests). */
export function ledgerExportApiOverBus(bus: BusClient, credential: string): LedgerExportApi {
  return {
    create: (input) => bus.request(createLedgerExport, input, { credential, timeoutMs: CREATE_TIMEOUT_MS }),
    balances: (input) => bus.request(listLedgerExportBalances, input, { credential }),
    entries: (input) => bus.request(listLedgerExportEntries, input, { credential }),
  };
}

export interface GatewayExportApiOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080. */
  gatewayUrl: string;
  /** An access token of the tenant holding `ledger.exports.create`. */
  accessToken: string;
  fetch?: typeof fetch;
}

/**
 * Through the gateway, as a tenant's auditor runs it:
 * POST /v1/tenants/:tenantId/ledger/exports {from, to}, and
 * GET  /v1/tenants/:tenantId/ledger/exports/{balances,entries}?from&to&limit&cursor.
 */
export function ledgerExportApiOverGateway(options: GatewayExportApiOptions): LedgerExportApi {
  const send = options.fetch ?? fetch;
  const base = options.gatewayUrl.replace(/\/+$/, '');
  async function call<C extends RequestContract>(contract: C, method: 'GET' | 'POST', path: string, body?: unknown) {
    const response = await send(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.accessToken}`,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const payload: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      const problem = (payload ?? {}) as { code?: string; detail?: string };
      throw new LedgerExportError(
        'EXPORT_REFUSED',
        `${method} ${path} answered ${response.status} ${problem.code ?? ''}: ${problem.detail ?? response.statusText}`,
      );
    }
    const parsed = contract.response.safeParse(payload);
    if (!parsed.success)
      throw new LedgerExportError('EXPORT_REFUSED', `${method} ${path} answered outside its contract`);
    return parsed.data as ResponseOf<C>;
  }
  const exportsOf = (tenantId: string) => `/v1/tenants/${encodeURIComponent(tenantId)}/ledger/exports`;
  const pageQuery = (input: { from: string; to: string; limit?: number; cursor?: string }) =>
    new URLSearchParams({
      from: input.from,
      to: input.to,
      ...(input.limit !== undefined ? { limit: String(input.limit) } : {}),
      ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
    }).toString();
  return {
    create: ({ tenantId, from, to }) => call(createLedgerExport, 'POST', exportsOf(tenantId), { from, to }),
    balances: (input) =>
      call(listLedgerExportBalances, 'GET', `${exportsOf(input.tenantId)}/balances?${pageQuery(input)}`),
    entries: (input) =>
      call(listLedgerExportEntries, 'GET', `${exportsOf(input.tenantId)}/entries?${pageQuery(input)}`),
  };
}
