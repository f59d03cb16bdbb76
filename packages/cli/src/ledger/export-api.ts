import {
  createLedgerExport,
  getLedgerExportSigningKeys,
  type LedgerExportSigningKey,
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

export type LedgerExportErrorCode =
  | 'EXPORT_REFUSED'
  | 'EXPORT_UNREACHABLE'
  | 'EXPORT_CHANGED'
  | 'EXPORT_EXISTS'
  | 'EXPORT_UNREADABLE';

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

/**
 * The gateway answers within its own bus timeout (30 s for a manifest, less for a page); a call
 * unanswered for twice that is a gateway not answering, not a slow export.
 */
const GATEWAY_CALL_TIMEOUT_MS = 60_000;
/** Validation issues quoted in an error; the problem carries up to 20. */
const ISSUES_QUOTED_MAX = 5;

/** What an RFC 9457 problem of the gateway says, with the fields of a VALIDATION problem that name what was wrong. */
interface GatewayProblem {
  code?: string;
  detail?: string;
  issues?: Array<{ path?: string; message?: string }>;
}

/** `400 VALIDATION: Invalid … request (to: Invalid ISO datetime)`: the status, the code, the detail and the issues. */
function describeProblem(status: number, statusText: string, problem: GatewayProblem): string {
  const issues = Array.isArray(problem.issues) ? problem.issues : [];
  const quoted = issues.slice(0, ISSUES_QUOTED_MAX).map((issue) => `${issue.path}: ${issue.message}`);
  if (issues.length > ISSUES_QUOTED_MAX) quoted.push(`${issues.length - ISSUES_QUOTED_MAX} more`);
  const code = problem.code === undefined ? '' : ` ${problem.code}`;
  return `${status}${code}: ${problem.detail ?? statusText}${quoted.length > 0 ? ` (${quoted.join('; ')})` : ''}`;
}

/** Why a request got no answer: refused connection, unknown host, or no answer in time. */
function unreachable(base: string, error: unknown): LedgerExportError {
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  const reason =
    error instanceof Error && error.name === 'TimeoutError'
      ? `no answer within ${GATEWAY_CALL_TIMEOUT_MS / 1000} s`
      : (cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error)));
  return new LedgerExportError('EXPORT_UNREACHABLE', `could not reach the gateway at ${base} (${reason})`);
}

export interface GatewayExportApiOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080. */
  gatewayUrl: string;
  /** An access token of the tenant holding `ledger.exports.create`. */
  accessToken: string;
  fetch?: typeof fetch;
}

/** A page refused for the credential's rate plan is asked again after Retry-After, this many times at most. */
const RATE_LIMITED_RETRIES_MAX = 5;
/** A Retry-After beyond this is not waited for: the export stops and says why. */
const RETRY_AFTER_SECONDS_MAX = 10;

/**
 * Sends, and on 429 waits the gateway's Retry-After (bounded) and sends again: a long export
 * spends many requests of the credential's per-second budget, and one refused page must not
 * throw the pages already read away. Anything else, or too many refusals, is answered as is.
 */
export async function sendRetryingRateLimits(
  attempt: () => Promise<Response>,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<Response> {
  for (let retries = 0; ; retries += 1) {
    const response = await attempt();
    if (response.status !== 429 || retries >= RATE_LIMITED_RETRIES_MAX) return response;
    const retryAfterSeconds = Number(response.headers.get('retry-after') ?? '1');
    if (!Number.isFinite(retryAfterSeconds) || retryAfterSeconds > RETRY_AFTER_SECONDS_MAX) return response;
    await response.body?.cancel();
    await sleep(Math.max(retryAfterSeconds, 0) * 1000);
  }
}

/** Reads a reply's JSON into what the call answers, or undefined when it is outside its contract. */
type ReplyParser<T> = (payload: unknown) => T | undefined;

const replyOf =
  <C extends RequestContract>(contract: C): ReplyParser<ResponseOf<C>> =>
  (payload) => {
    const parsed = contract.response.safeParse(payload);
    return parsed.success ? (parsed.data as ResponseOf<C>) : undefined;
  };

/** One gateway call with the caller's token: its reply as `parse` reads it, or a LedgerExportError. */
function gatewayCaller(options: GatewayExportApiOptions) {
  const send = options.fetch ?? fetch;
  const base = options.gatewayUrl.replace(/\/+$/, '');
  return async <T>(parse: ReplyParser<T>, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
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
        throw unreachable(base, error);
      }),
    );
    const payload: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      const problem = (typeof payload === 'object' && payload !== null ? payload : {}) as GatewayProblem;
      throw new LedgerExportError(
        'EXPORT_REFUSED',
        `${method} ${path} answered ${describeProblem(response.status, response.statusText, problem)}`,
      );
    }
    const parsed = parse(payload);
    if (parsed === undefined)
      throw new LedgerExportError('EXPORT_REFUSED', `${method} ${path} answered outside its contract`);
    return parsed;
  };
}

const tenantPath = (tenantId: string) => `/v1/tenants/${encodeURIComponent(tenantId)}`;

/**
 * Through the gateway, as a tenant's auditor runs it:
 * POST /v1/tenants/:tenantId/ledger/exports {from, to}, and
 * GET  /v1/tenants/:tenantId/ledger/exports/{balances,entries}?from&to&limit&cursor.
 */
export function ledgerExportApiOverGateway(options: GatewayExportApiOptions): LedgerExportApi {
  const call = gatewayCaller(options);
  const exportsOf = (tenantId: string) => `${tenantPath(tenantId)}/ledger/exports`;
  const pageQuery = (input: { from: string; to: string; limit?: number; cursor?: string }) =>
    new URLSearchParams({
      from: input.from,
      to: input.to,
      ...(input.limit !== undefined ? { limit: String(input.limit) } : {}),
      ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
    }).toString();
  return {
    create: ({ tenantId, from, to }) => call(replyOf(createLedgerExport), 'POST', exportsOf(tenantId), { from, to }),
    balances: (input) =>
      call(replyOf(listLedgerExportBalances), 'GET', `${exportsOf(input.tenantId)}/balances?${pageQuery(input)}`),
    entries: (input) =>
      call(replyOf(listLedgerExportEntries), 'GET', `${exportsOf(input.tenantId)}/entries?${pageQuery(input)}`),
  };
}

/** Key versions a reply may list: a key rotated monthly for eight years is under 100. */
export const LEDGER_EXPORT_SIGNING_KEYS_MAX = 100;

/** The platform's export signing public keys: GET /v1/tenants/:tenantId/ledger/export-signing-keys. */
export async function ledgerExportSigningKeysOverGateway(
  options: GatewayExportApiOptions,
  tenantId: string,
): Promise<LedgerExportSigningKey[]> {
  const path = `${tenantPath(tenantId)}/ledger/export-signing-keys`;
  const { keys } = await gatewayCaller(options)(replyOf(getLedgerExportSigningKeys), 'GET', path);
  if (keys.length > LEDGER_EXPORT_SIGNING_KEYS_MAX) {
    throw new LedgerExportError(
      'EXPORT_REFUSED',
      `GET ${path} listed more than ${LEDGER_EXPORT_SIGNING_KEYS_MAX} keys`,
    );
  }
  return keys;
}
