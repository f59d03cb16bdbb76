import { randomUUID } from 'node:crypto';
import type {
  ErrorCode,
  LedgerAccount,
  LedgerAccountType,
  Posting,
  Transfer,
  TransferCommandInput,
} from '@strongroom/contracts';

/**
 * The ledger's REST API as a client calls it through the gateway: a bearer token, JSON in, JSON
 * or problem+json out. For e2e tests.
 */

/** A reply: status, headers and the parsed body (undefined when empty or not JSON). */
export interface Reply<T = unknown> {
  status: number;
  headers: Headers;
  /** Parsed JSON; `any` so a test can read a problem's fields or a resource's without a cast each time. */
  body: T;
  contentType: string;
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is (a malformed body); wins over `body`. */
  rawBody?: string;
  headers?: Record<string, string>;
}

export class LedgerApi {
  constructor(
    private readonly gatewayUrl: string,
    readonly tenantId: string,
    private readonly token: string,
  ) {}

  /** `/v1/tenants/<tenant>/ledger` + `path`. */
  pathOf(path: string): string {
    return `/v1/tenants/${this.tenantId}/ledger${path}`;
  }

  /** A call of a ledger route: `path` under the tenant's ledger. */
  // biome-ignore lint/suspicious/noExplicitAny: replies are read field by field in the tests
  call<T = any>(method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
    return this.request<T>(method, this.pathOf(path), options);
  }

  /** A call of any API route with this credential (`path` from the root, e.g. `/v1/tenants/<id>/clients`). */
  // biome-ignore lint/suspicious/noExplicitAny: as above
  async request<T = any>(method: string, path: string, options: CallOptions = {}): Promise<Reply<T>> {
    const body = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const response = await fetch(`${this.gatewayUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    return {
      status: response.status,
      headers: response.headers,
      body: (text !== '' && contentType.includes('json') ? JSON.parse(text) : undefined) as T,
      contentType,
    };
  }

  /** Opens a USD account (201 expected) under a code made unique by a suffix. */
  async openAccount(
    code: string,
    type: LedgerAccountType,
    extra: { flags?: Record<string, boolean>; currency?: string; metadata?: Record<string, string> } = {},
  ): Promise<LedgerAccount> {
    const reply = await this.call<LedgerAccount>('POST', '/accounts', {
      body: { code: `${code}-${randomUUID().slice(0, 8)}`, name: code, currency: 'USD', type, ...extra },
    });
    return expectStatus(reply, 201);
  }

  async account(accountId: string): Promise<LedgerAccount> {
    return expectStatus(await this.call<LedgerAccount>('GET', `/accounts/${accountId}`), 200);
  }

  async balances(accountId: string): Promise<LedgerAccount['balances']> {
    return (await this.account(accountId)).balances;
  }

  /** POST /transfers with one command; the reply as it came. */
  transfer(command: TransferCommandInput, headers: Record<string, string> = {}) {
    return this.call<Transfer>('POST', '/transfers', { body: command, headers });
  }

  /** POST /transfers, expecting it applied (201). */
  async applied(command: TransferCommandInput): Promise<Transfer> {
    return expectStatus(await this.transfer(command), 201);
  }

  async getTransfer(transferId: string): Promise<Transfer> {
    return expectStatus(await this.call<Transfer>('GET', `/transfers/${transferId}`), 200);
  }
}

/** The body of a reply with this status; otherwise fails with what came instead. */
export function expectStatus<T>(reply: Reply<T>, status: number): T {
  if (reply.status !== status)
    throw new Error(`expected ${status}, got ${reply.status}: ${JSON.stringify(reply.body)?.slice(0, 400)}`);
  return reply.body;
}

/** A problem+json reply with this status and code (and `reason`, when given). */
export function expectProblem(reply: Reply, status: number, code: ErrorCode, reason?: string): void {
  expect({ status: reply.status, contentType: reply.contentType }).toEqual({
    status,
    contentType: expect.stringContaining('application/problem+json'),
  });
  expect(reply.body).toMatchObject({ status, code, ...(reason !== undefined ? { reason } : {}) });
}

/** Postings moving `amount` from `debited` to `credited` (USD unless said otherwise). */
export function moving(
  debited: { id: string },
  credited: { id: string },
  amount: string,
  currency = 'USD',
): [Posting, Posting] {
  return [
    { accountId: debited.id, direction: 'debit', amount, currency },
    { accountId: credited.id, direction: 'credit', amount, currency },
  ];
}
