import {
  type AuditExport,
  type AuditSigningKey,
  createAuditExport,
  getAuditSigningKeys,
  listAuditExportRecords,
  type RequestContract,
  type ResponseOf,
} from '@strongroom/contracts';
import { sendRetryingRateLimits } from '../ledger/export-api';

/** The audit calls an export is assembled from (through the gateway, as a tenant's auditor). */
export interface AuditExportApi {
  /** POST /v1/audit/exports: the period's seqs, the hash before them and the checkpoint at the last. */
  create(input: { tenantId?: string; from: string; to: string }): Promise<AuditExport>;
  /** GET /v1/audit/exports/records: the stored documents, ascending seq. */
  records(input: {
    tenantId?: string;
    firstSeq: number;
    lastSeq: number;
    limit?: number;
    cursor?: string;
  }): Promise<ResponseOf<typeof listAuditExportRecords>>;
  /** GET /v1/audit/signing-keys: what the platform says its keys are (to pin, not to trust alone). */
  signingKeys(input: { tenantId?: string }): Promise<AuditSigningKey[]>;
}

export type AuditCliErrorCode =
  | 'AUDIT_REFUSED'
  | 'AUDIT_UNREACHABLE'
  | 'AUDIT_EXISTS'
  | 'AUDIT_UNREADABLE'
  | 'AUDIT_CHANGED'
  | 'AUDIT_DATABASE';

/** What went wrong in an audit command, with a code `strongroom` prints ([AUDIT_REFUSED] …). */
export class AuditCliError extends Error {
  override readonly name = 'AuditCliError';
  constructor(
    readonly code: AuditCliErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The gateway answers within its own bus timeout (30 s at most); unanswered for twice that, it is not answering. */
const GATEWAY_CALL_TIMEOUT_MS = 60_000;

export interface GatewayAuditApiOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080. */
  gatewayUrl: string;
  /** An access token holding audit.records.export (and audit.records.read for the keys). */
  accessToken: string;
  fetch?: typeof fetch;
}

interface GatewayProblem {
  code?: string;
  detail?: string;
}

/** One gateway call with the caller's token, its reply checked against the contract's response. */
function gatewayCaller(options: GatewayAuditApiOptions) {
  const send = options.fetch ?? fetch;
  const base = options.gatewayUrl.replace(/\/+$/, '');
  return async <C extends RequestContract>(
    contract: C,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<ResponseOf<C>> => {
    const response = await sendRetryingRateLimits(() =>
      send(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.accessToken}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(GATEWAY_CALL_TIMEOUT_MS),
      }).catch((error: unknown) => {
        const cause = error instanceof Error ? (error.cause as { code?: string } | undefined) : undefined;
        const reason = cause?.code ?? (error instanceof Error ? error.message : String(error));
        throw new AuditCliError('AUDIT_UNREACHABLE', `could not reach the gateway at ${base} (${reason})`);
      }),
    );
    const payload: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      const problem = (typeof payload === 'object' && payload !== null ? payload : {}) as GatewayProblem;
      throw new AuditCliError(
        'AUDIT_REFUSED',
        `${method} ${path} answered ${response.status}${problem.code ? ` ${problem.code}` : ''}: ${problem.detail ?? response.statusText}`,
      );
    }
    const parsed = contract.response.safeParse(payload);
    if (!parsed.success) throw new AuditCliError('AUDIT_REFUSED', `${method} ${path} answered outside its contract`);
    return parsed.data as ResponseOf<C>;
  };
}

/** `?tenantId=…&…` of the parameters given (a platform credential names the tenant; a tenant's own is implied). */
function queryOf(parameters: Record<string, string | number | undefined>): string {
  const present = Object.entries(parameters).flatMap(([name, value]) =>
    value === undefined ? [] : [[name, String(value)] as [string, string]],
  );
  return present.length === 0 ? '' : `?${new URLSearchParams(present).toString()}`;
}

export function auditExportApiOverGateway(options: GatewayAuditApiOptions): AuditExportApi {
  const call = gatewayCaller(options);
  return {
    create: ({ tenantId, from, to }) =>
      call(createAuditExport, 'POST', `/v1/audit/exports${queryOf({ tenantId })}`, { from, to }),
    records: (input) => call(listAuditExportRecords, 'GET', `/v1/audit/exports/records${queryOf({ ...input })}`),
    signingKeys: async ({ tenantId }) =>
      (await call(getAuditSigningKeys, 'GET', `/v1/audit/signing-keys${queryOf({ tenantId })}`)).keys,
  };
}
