import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { RunningStack } from '@strongroom/cli';
import {
  type AppliedTransferRecord,
  createClient,
  type LedgerAccount,
  type LedgerEntry,
  OPERATOR_IDENTITY,
  type PayloadOf,
  type Permission,
  type Transfer,
  type TransferCommandInput,
  type TransferResult,
  transfersApplied,
} from '@strongroom/contracts';
import { BusClient, busTlsFilesFor, connectBus, serviceCredentialsOverBus } from '@strongroom/platform';
import { readStream, type StreamEvent } from './support/event-stream';
import { expectProblem, expectStatus, LedgerApi, moving } from './support/ledger-api';
import { clientCredentialsToken, startTestStack, type TestStack } from './test-stack';

const LEDGER_PERMISSIONS: Permission[] = [
  'ledger.accounts.create',
  'ledger.accounts.read',
  'ledger.transfers.create',
  'ledger.transfers.read',
];
const ZERO = { debitsPosted: '0', creditsPosted: '0', debitsPending: '0', creditsPending: '0' };

type Immediate = Extract<TransferCommandInput, { type: 'immediate' }>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The ledger as a client uses it: over HTTP through the gateway with an OAuth2 token (the demo
 * client's, a production client's, one without the reversal permission), against the real
 * ledger service, Postgres and JetStream.
 */
describe('the ledger through the gateway', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let sandbox: LedgerApi;
  /** What the suite applied, for the audit stream: transfer id → what its event must say. */
  const applied = new Map<string, { type: string; category: string; actor: string }>();
  /** Transfers refused or failed with their chain: never an event. */
  const neverApplied: string[] = [];
  let expiredPendingId: string | undefined;

  const record = (transfer: Transfer, actor = stack.demo.clientId) =>
    applied.set(transfer.id, { type: transfer.type, category: transfer.category, actor });
  /** POST /transfers (as the demo client unless told otherwise), expecting it applied; recorded for the stream. */
  const apply = async (command: TransferCommandInput, api = sandbox, actor?: string) => {
    const transfer = await api.applied(command);
    record(transfer, actor);
    return transfer;
  };
  const immediate = (
    debited: { id: string },
    credited: { id: string },
    amount: string,
    extra: Partial<Immediate> = {},
  ): Immediate => ({
    type: 'immediate',
    id: randomUUID(),
    category: 'redemption',
    postings: moving(debited, credited, amount),
    ...extra,
  });
  /** Reserves `amount` of `debited` for `credited`; timeoutSeconds 0: until posted or voided. */
  const pendingOf = (
    debited: { id: string },
    credited: { id: string },
    amount: string,
    timeoutSeconds = 0,
  ): TransferCommandInput => ({
    type: 'pending',
    id: randomUUID(),
    category: 'redemption',
    postings: moving(debited, credited, amount),
    timeoutSeconds,
  });
  /** A customer wallet that cannot go negative, funded from cash, and a merchant to pay. */
  const fundedWallet = async (amount: string) => {
    const cash = await sandbox.openAccount('cash', 'asset');
    const wallet = await sandbox.openAccount('wallet', 'liability', { flags: { debitsMustNotExceedCredits: true } });
    const merchant = await sandbox.openAccount('merchant', 'liability');
    const allocation = await apply(immediate(cash, wallet, amount, { category: 'allocation' }));
    return { cash, wallet, merchant, allocation };
  };

  beforeAll(async () => {
    testStack = await startTestStack();
    stack = testStack.stack;
    sandbox = new LedgerApi(
      stack.gatewayUrl,
      stack.demo.tenantId,
      await clientCredentialsToken(stack.gatewayUrl, stack.demo),
    );
  }, 120_000);

  afterAll(async () => {
    await testStack?.dispose();
  }, 60_000);

  it('opens accounts, allocates to a wallet, redeems from it, and reads accounts and balances back', async () => {
    const { cash, wallet, merchant, allocation } = await fundedWallet('10000');
    expect(wallet).toMatchObject({
      tenantId: stack.demo.tenantId,
      currency: 'USD',
      currencyExponent: 2,
      type: 'liability',
      normalBalance: 'credit',
      flags: { debitsMustNotExceedCredits: true, creditsMustNotExceedDebits: false },
      closed: false,
      balances: ZERO,
    });
    expect(allocation).toMatchObject({ type: 'immediate', category: 'allocation', pendingStatus: null });
    const redemption = await apply(immediate(wallet, merchant, '2500', { metadata: { voucher: 'v-1' } }));
    expect(redemption).toMatchObject({ category: 'redemption', metadata: { voucher: 'v-1' }, reversedBy: null });
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, debitsPosted: '2500', creditsPosted: '10000' });
    const balance = expectStatus(await sandbox.call('GET', `/accounts/${wallet.id}/balance`), 200);
    expect(balance).toMatchObject({ accountId: wallet.id, postedNet: '7500', currency: 'USD', currencyExponent: 2 });
    expect(Math.abs(Date.parse(balance.asOf) - Date.now())).toBeLessThan(60_000);
    // An asset's balance is on the debit side.
    expect(expectStatus(await sandbox.call('GET', `/accounts/${cash.id}/balance`), 200).postedNet).toBe('10000');

    const euro = await sandbox.openAccount('euro-float', 'asset', { currency: 'EUR' });
    const euros = expectStatus(await sandbox.call('GET', '/accounts?currency=EUR&limit=1000'), 200);
    expect(euros.accounts.map((account: LedgerAccount) => account.id)).toEqual([euro.id]);
    // Cursor paging: two at a time, in id order, until nextCursor is null.
    const seen: string[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page: { accounts: LedgerAccount[]; nextCursor: string | null } = expectStatus(
        await sandbox.call('GET', `/accounts?limit=2${cursor ? `&cursor=${cursor}` : ''}`),
        200,
      );
      expect(page.accounts.length).toBeLessThanOrEqual(2);
      seen.push(...page.accounts.map((account) => account.id));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual([...seen].sort());
    expect(seen).toEqual(expect.arrayContaining([cash.id, wallet.id, merchant.id, euro.id]));
  });

  it('refuses an overdraft as 409 problem+json with reason INSUFFICIENT_FUNDS, and moves nothing', async () => {
    const { wallet, merchant } = await fundedWallet('1000');
    const overdraft = immediate(wallet, merchant, '1001');
    const refused = await sandbox.transfer(overdraft);
    expectProblem(refused, 409, 'CONFLICT', 'INSUFFICIENT_FUNDS');
    expect(refused.body).toMatchObject({ accountId: wallet.id });
    neverApplied.push(overdraft.id);
    expectProblem(await sandbox.call('GET', `/transfers/${overdraft.id}`), 404, 'NOT_FOUND');
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, creditsPosted: '1000' });
    expect(await sandbox.balances(merchant.id)).toEqual(ZERO);
  });

  it('answers 404 for an account that does not exist, in a transfer and read directly', async () => {
    const { wallet } = await fundedWallet('100');
    const unknown = randomUUID();
    const refused = await sandbox.transfer(immediate(wallet, { id: unknown }, '10'));
    expectProblem(refused, 404, 'NOT_FOUND', 'ACCOUNT_NOT_FOUND');
    expect(refused.body).toMatchObject({ accountId: unknown });
    for (const path of [`/accounts/${unknown}`, `/accounts/${unknown}/balance`, `/accounts/${unknown}/entries`])
      expectProblem(await sandbox.call('GET', path), 404, 'NOT_FOUND');
    expectProblem(await sandbox.call('POST', `/accounts/${unknown}/closure`), 404, 'NOT_FOUND');
    expectProblem(await sandbox.call('GET', `/transfers/${randomUUID()}`), 404, 'NOT_FOUND');
  });

  it('answers a batch with a result per transfer; a linked chain with one refusal fails as a whole', async () => {
    const { wallet, merchant, allocation } = await fundedWallet('1000');
    const chain = [
      immediate(wallet, merchant, '600', { linked: true }),
      immediate(wallet, merchant, '300', { linked: true }),
      // Ends the chain; 600 + 300 + 500 would overdraw the wallet.
      immediate(wallet, merchant, '500'),
    ];
    const alone = immediate(wallet, merchant, '400', { category: 'settlement' });
    const reply = await sandbox.call('POST', '/transfer-batches', { body: { transfers: [...chain, alone] } });
    const { results } = expectStatus<{ results: TransferResult[] }>(reply, 200);
    expect(results).toEqual([
      { id: chain[0]!.id, result: 'linked_event_failed' },
      { id: chain[1]!.id, result: 'linked_event_failed' },
      { id: chain[2]!.id, result: 'insufficient_funds', accountId: wallet.id },
      { id: alone.id, result: 'ok' },
    ]);
    neverApplied.push(...chain.map((command) => command.id));
    record(await sandbox.getTransfer(alone.id));
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, debitsPosted: '400', creditsPosted: '1000' });
    // The same batch again: the applied transfer is `exists`, never applied twice.
    const again = expectStatus(await sandbox.call('POST', '/transfer-batches', { body: { transfers: [alone] } }), 200);
    expect(again.results).toEqual([{ id: alone.id, result: 'exists' }]);
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, debitsPosted: '400', creditsPosted: '1000' });
    // Nothing of the failed chain is stored: no transfer, no line in the wallet's history.
    for (const command of chain) expectProblem(await sandbox.call('GET', `/transfers/${command.id}`), 404, 'NOT_FOUND');
    const { entries } = expectStatus(await sandbox.call('GET', `/accounts/${wallet.id}/entries`), 200);
    expect(entries.map((entry: LedgerEntry) => entry.transferId)).toEqual([allocation.id, alone.id]);
  });

  it('reserves with a pending transfer, posts part of it and releases the rest; a second post is refused', async () => {
    const { wallet, merchant } = await fundedWallet('1000');
    const pending = await apply(pendingOf(wallet, merchant, '800', 3_600));
    expect(pending).toMatchObject({ type: 'pending', pendingStatus: 'open' });
    expect(Date.parse(pending.expiresAt!) - Date.parse(pending.createdAt)).toBe(3_600_000);
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, creditsPosted: '1000', debitsPending: '800' });
    // The reservation holds: 800 reserved + 300 is more than the wallet has.
    expectProblem(await sandbox.transfer(immediate(wallet, merchant, '300')), 409, 'CONFLICT', 'INSUFFICIENT_FUNDS');

    const post = await apply({
      type: 'post_pending',
      id: randomUUID(),
      category: 'settlement',
      pendingId: pending.id,
      postings: moving(wallet, merchant, '500'),
    });
    expect(post).toMatchObject({
      type: 'post_pending',
      pendingId: pending.id,
      postings: moving(wallet, merchant, '500'),
    });
    expect((await sandbox.getTransfer(pending.id)).pendingStatus).toBe('posted');
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, debitsPosted: '500', creditsPosted: '1000' });
    expect(await sandbox.balances(merchant.id)).toEqual({ ...ZERO, creditsPosted: '500' });
    const again = await sandbox.transfer({ type: 'post_pending', id: randomUUID(), pendingId: pending.id });
    expectProblem(again, 409, 'CONFLICT', 'PENDING_TRANSFER_ALREADY_POSTED');

    const small = await apply(pendingOf(wallet, merchant, '200'));
    const tooMuch = await sandbox.transfer({
      type: 'post_pending',
      id: randomUUID(),
      pendingId: small.id,
      postings: moving(wallet, merchant, '201'),
    });
    expectProblem(tooMuch, 409, 'CONFLICT', 'POST_EXCEEDS_PENDING_AMOUNT');
  });

  it('voids a pending transfer: the reservation is released and it can no longer be posted', async () => {
    const { wallet, merchant } = await fundedWallet('1000');
    const pending = await apply(pendingOf(wallet, merchant, '700'));
    expect(pending.expiresAt).toBeNull();
    const voided = await apply({ type: 'void_pending', id: randomUUID(), pendingId: pending.id });
    expect(voided).toMatchObject({ type: 'void_pending', pendingId: pending.id });
    expect((await sandbox.getTransfer(pending.id)).pendingStatus).toBe('voided');
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, creditsPosted: '1000' });
    const post = await sandbox.transfer({ type: 'post_pending', id: randomUUID(), pendingId: pending.id });
    expectProblem(post, 409, 'CONFLICT', 'PENDING_TRANSFER_ALREADY_VOIDED');
    const unknown = await sandbox.transfer({ type: 'void_pending', id: randomUUID(), pendingId: randomUUID() });
    expectProblem(unknown, 404, 'NOT_FOUND', 'PENDING_TRANSFER_NOT_FOUND');
  });

  it('reverses a posted transfer once, with the mirror postings; a second reversal is refused', async () => {
    const { wallet, merchant } = await fundedWallet('1000');
    const redemption = await apply(immediate(wallet, merchant, '400'));
    const reversal = await apply({
      type: 'reversal',
      id: randomUUID(),
      category: 'adjustment',
      reversesId: redemption.id,
    });
    expect(reversal).toMatchObject({
      type: 'reversal',
      reversesId: redemption.id,
      postings: expect.arrayContaining([
        { accountId: wallet.id, direction: 'credit', amount: '400', currency: 'USD' },
        { accountId: merchant.id, direction: 'debit', amount: '400', currency: 'USD' },
      ]),
    });
    expect((await sandbox.getTransfer(redemption.id)).reversedBy).toBe(reversal.id);
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, debitsPosted: '400', creditsPosted: '1400' });
    expect(await sandbox.balances(merchant.id)).toEqual({ ...ZERO, debitsPosted: '400', creditsPosted: '400' });
    const second = await sandbox.transfer({ type: 'reversal', id: randomUUID(), reversesId: redemption.id });
    expectProblem(second, 409, 'CONFLICT', 'TRANSFER_ALREADY_REVERSED');
    const pending = await apply(pendingOf(wallet, merchant, '10'));
    const ofPending = await sandbox.transfer({ type: 'reversal', id: randomUUID(), reversesId: pending.id });
    expectProblem(ofPending, 409, 'CONFLICT', 'REVERSAL_TARGET_NOT_POSTED');
    const ofNothing = await sandbox.transfer({ type: 'reversal', id: randomUUID(), reversesId: randomUUID() });
    expectProblem(ofNothing, 404, 'NOT_FOUND', 'REVERSAL_TARGET_NOT_FOUND');
  });

  it('reads a balance as of a past instant (with a Z or an offset), and zero before the first entry', async () => {
    const { wallet, merchant, allocation } = await fundedWallet('1000');
    await sleep(20);
    await apply(immediate(wallet, merchant, '300'));
    const balanceAt = async (asOf: string) =>
      expectStatus(await sandbox.call('GET', `/accounts/${wallet.id}/balance?asOf=${encodeURIComponent(asOf)}`), 200);
    const allocatedAt = Date.parse(allocation.createdAt);
    expect(await balanceAt(allocation.createdAt)).toMatchObject({ postedNet: '1000', debitsPosted: '0' });
    // The same instant written in UTC+02:00.
    const inParis = `${new Date(allocatedAt + 2 * 3_600_000).toISOString().slice(0, 23)}+02:00`;
    expect(await balanceAt(inParis)).toMatchObject({ postedNet: '1000', asOf: allocation.createdAt });
    expect(await balanceAt(new Date(allocatedAt - 1).toISOString())).toMatchObject({ ...ZERO, postedNet: '0' });
    expect(expectStatus(await sandbox.call('GET', `/accounts/${wallet.id}/balance`), 200).postedNet).toBe('700');
  });

  it("pages an account's history with a cursor, oldest first, each line with the balances after it", async () => {
    const { wallet, merchant, allocation } = await fundedWallet('1000');
    const redemptions: Transfer[] = [];
    for (let n = 0; n < 4; n += 1) {
      await sleep(5);
      redemptions.push(await apply(immediate(wallet, merchant, '100')));
    }
    const pages: LedgerEntry[][] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor === null ? 'limit=2' : `limit=2&cursor=${cursor}`;
      const page = expectStatus(await sandbox.call('GET', `/accounts/${wallet.id}/entries?${query}`), 200);
      pages.push(page.entries);
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(pages.map((page) => page.length)).toEqual([2, 2, 1]);
    const entries = pages.flat();
    expect(entries.map((entry) => entry.transferId)).toEqual([allocation.id, ...redemptions.map((t) => t.id)]);
    expect(entries.map((entry) => BigInt(entry.seq))).toEqual(
      entries.map((entry) => BigInt(entry.seq)).sort((x, y) => (x < y ? -1 : 1)),
    );
    expect(entries[4]).toMatchObject({
      direction: 'debit',
      postedAmount: '100',
      pendingChange: '0',
      balancesAfter: { ...ZERO, debitsPosted: '400', creditsPosted: '1000' },
    });
    // [from, to): the second and third redemptions.
    const from = encodeURIComponent(redemptions[1]!.createdAt);
    const to = encodeURIComponent(redemptions[3]!.createdAt);
    const window = expectStatus(await sandbox.call('GET', `/accounts/${wallet.id}/entries?from=${from}&to=${to}`), 200);
    expect(window.entries.map((entry: LedgerEntry) => entry.transferId)).toEqual([
      redemptions[1]!.id,
      redemptions[2]!.id,
    ]);
  });

  it('finds the transfers carrying a reference, oldest first', async () => {
    const { cash, wallet, merchant } = await fundedWallet('1000');
    const reference = `loan-${randomUUID()}`;
    const disbursed = await apply(immediate(cash, wallet, '500', { category: 'disbursement', reference }));
    const repaid = await apply(immediate(wallet, merchant, '200', { category: 'repayment', reference }));
    await apply(immediate(wallet, merchant, '1', { reference: `other-${reference}` }));
    const found = expectStatus(await sandbox.call('GET', `/transfers?reference=${encodeURIComponent(reference)}`), 200);
    expect(found.transfers.map((transfer: Transfer) => transfer.id)).toEqual([disbursed.id, repaid.id]);
    expect(found.transfers[0]).toMatchObject({ reference, category: 'disbursement' });
    expect(found.nextCursor).toBeNull();
    // One at a time: the cursor walks the same order, and the last page says there is no more.
    const first = expectStatus(await sandbox.call('GET', `/transfers?reference=${reference}&limit=1`), 200);
    expect(first.transfers.map((transfer: Transfer) => transfer.id)).toEqual([disbursed.id]);
    const second = expectStatus(
      await sandbox.call('GET', `/transfers?reference=${reference}&limit=1&cursor=${first.nextCursor}`),
      200,
    );
    expect(second).toMatchObject({ transfers: [expect.objectContaining({ id: repaid.id })], nextCursor: null });
    expect(expectStatus(await sandbox.call('GET', `/transfers?reference=none-${reference}`), 200)).toEqual({
      transfers: [],
      nextCursor: null,
    });
    expectProblem(await sandbox.call('GET', '/transfers'), 400, 'VALIDATION');
  });

  it('replays POST /transfers under the same Idempotency-Key (Idempotent-Replayed: true), and refuses the key with another body (409)', async () => {
    const { wallet, merchant } = await fundedWallet('1000');
    const command = immediate(wallet, merchant, '250');
    const key = { 'idempotency-key': `redeem-${randomUUID()}` };
    const first = await sandbox.transfer(command, key);
    record(expectStatus(first, 201));
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const replayed = await sandbox.transfer(command, key);
    expect(replayed.status).toBe(201);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(replayed.body).toEqual(first.body);
    const reused = await sandbox.transfer({ ...command, postings: moving(wallet, merchant, '260') }, key);
    expectProblem(reused, 409, 'IDEMPOTENCY_KEY_REUSED');
    // Without a key the ledger's own id does the same: a retry returns the transfer, another body under it is refused.
    expect(expectStatus(await sandbox.transfer(command), 201)).toEqual(first.body);
    const idReused = await sandbox.transfer({ ...command, postings: moving(wallet, merchant, '260') });
    expectProblem(idReused, 409, 'CONFLICT', 'ID_ALREADY_USED');
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, debitsPosted: '250', creditsPosted: '1000' });
  });

  it('keeps a production ledger apart: the sandbox credential never sees accounts or transfers of a production credential', async () => {
    // A production client can only be registered by a production or platform credential: the operator, over the bus.
    const connection = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), OPERATOR_IDENTITY),
      name: 'e2e-ledger-production',
    });
    let client: { clientId: string; clientSecret?: string };
    try {
      const operator = new BusClient(connection, {
        defaultTimeoutMs: 10_000,
        actingAs: serviceCredentialsOverBus(new BusClient(connection, { defaultTimeoutMs: 10_000 })),
      });
      client = await operator.request(createClient, {
        tenantId: stack.demo.tenantId,
        environment: 'production',
        name: 'Production ledger',
        grantTypes: ['client_credentials'],
        tokenEndpointAuthMethod: 'client_secret_basic',
        redirectUris: [],
        permissions: LEDGER_PERMISSIONS,
      });
    } finally {
      await connection.close();
    }
    const production = new LedgerApi(
      stack.gatewayUrl,
      stack.demo.tenantId,
      await clientCredentialsToken(stack.gatewayUrl, { clientId: client.clientId, clientSecret: client.clientSecret! }),
    );
    // One code in both ledgers: they are two books, not one.
    const code = `float-${randomUUID().slice(0, 8)}`;
    const body = { code, name: 'Float', currency: 'USD', type: 'asset' };
    const inSandbox = expectStatus(await sandbox.call('POST', '/accounts', { body }), 201);
    const inProduction = expectStatus(await production.call('POST', '/accounts', { body }), 201);
    expect(inProduction.id).not.toBe(inSandbox.id);
    const payee = await production.openAccount('payee', 'liability');
    const reference = `prod-${randomUUID()}`;
    const transfer = await apply(immediate(inProduction, payee, '900', { reference }), production, client.clientId);

    expect((await production.account(inProduction.id)).balances.debitsPosted).toBe('900');
    expectProblem(await sandbox.call('GET', `/accounts/${inProduction.id}`), 404, 'NOT_FOUND');
    expectProblem(await sandbox.call('GET', `/accounts/${inProduction.id}/balance`), 404, 'NOT_FOUND');
    expectProblem(await sandbox.call('GET', `/transfers/${transfer.id}`), 404, 'NOT_FOUND');
    expect(expectStatus(await sandbox.call('GET', `/transfers?reference=${reference}`), 200)).toEqual({
      transfers: [],
      nextCursor: null,
    });
    const sandboxAccounts = expectStatus(await sandbox.call('GET', '/accounts?limit=1000'), 200).accounts;
    expect(sandboxAccounts.map((account: LedgerAccount) => account.id)).not.toContain(inProduction.id);
    // Moving production money with a sandbox credential: the account does not exist in its ledger.
    const crossing = await sandbox.transfer(immediate(inSandbox, payee, '1'));
    expectProblem(crossing, 404, 'NOT_FOUND', 'ACCOUNT_NOT_FOUND');
    // ...and the other way round.
    expectProblem(await production.call('GET', `/accounts/${inSandbox.id}`), 404, 'NOT_FOUND');
    const productionAccounts = expectStatus(await production.call('GET', '/accounts?limit=1000'), 200).accounts;
    expect(productionAccounts.map((account: LedgerAccount) => account.id).sort()).toEqual(
      [inProduction.id, payee.id].sort(),
    );
    // Transfer ids are the tenant's: one taken in the sandbox is not free in production, nor a retry there.
    const sandboxTransfer = await apply(immediate(inSandbox, await sandbox.openAccount('sink', 'liability'), '1'));
    const reused = await production.transfer({ ...immediate(inProduction, payee, '1'), id: sandboxTransfer.id });
    expectProblem(reused, 409, 'CONFLICT', 'ID_ALREADY_USED');
    expectProblem(await production.call('GET', `/transfers/${sandboxTransfer.id}`), 404, 'NOT_FOUND');
  });

  it('refuses a reversal to a credential without ledger.transfers.reverse (403), which may still transfer', async () => {
    const registered = await sandbox.request('POST', `/v1/tenants/${stack.demo.tenantId}/clients`, {
      body: {
        environment: 'sandbox',
        name: 'Cashier (no reversals)',
        grantTypes: ['client_credentials'],
        permissions: LEDGER_PERMISSIONS,
      },
    });
    const client = expectStatus(registered, 201);
    const cashier = new LedgerApi(
      stack.gatewayUrl,
      stack.demo.tenantId,
      await clientCredentialsToken(stack.gatewayUrl, client),
    );
    const { wallet, merchant } = await fundedWallet('1000');
    const redemption = await apply(immediate(wallet, merchant, '100'), cashier, client.clientId);
    const reversal = { type: 'reversal', id: randomUUID(), reversesId: redemption.id } as const;
    const refused = await cashier.transfer(reversal);
    expectProblem(refused, 403, 'FORBIDDEN');
    expect(refused.body).toMatchObject({ permission: 'ledger.transfers.reverse' });
    const inBatch = await cashier.call('POST', '/transfer-batches', {
      body: { transfers: [immediate(wallet, merchant, '1'), reversal] },
    });
    expectProblem(inBatch, 403, 'FORBIDDEN');
    expect((await sandbox.getTransfer(redemption.id)).reversedBy).toBeNull();
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, debitsPosted: '100', creditsPosted: '1000' });
  });

  it('closes an account with nothing pending: it takes no more transfers, its history stays', async () => {
    const { wallet, merchant } = await fundedWallet('1000');
    const pending = await apply(pendingOf(wallet, merchant, '10'));
    expectProblem(
      await sandbox.call('POST', `/accounts/${merchant.id}/closure`),
      409,
      'CONFLICT',
      'ACCOUNT_HAS_PENDING',
    );
    await apply({ type: 'void_pending', id: randomUUID(), pendingId: pending.id });
    const closed = expectStatus(await sandbox.call('POST', `/accounts/${merchant.id}/closure`), 200);
    expect(closed).toMatchObject({ id: merchant.id, closed: true });
    expect(expectStatus(await sandbox.call('POST', `/accounts/${merchant.id}/closure`), 200).closed).toBe(true);
    expectProblem(await sandbox.transfer(immediate(wallet, merchant, '1')), 409, 'CONFLICT', 'ACCOUNT_CLOSED');
    expect(expectStatus(await sandbox.call('GET', `/accounts/${merchant.id}/entries`), 200).entries).toHaveLength(2);
  });

  it('refuses malformed bodies and queries as 400 problem+json, applying nothing', async () => {
    const { wallet, merchant } = await fundedWallet('1000');
    const valid = immediate(wallet, merchant, '10');
    const posting = (changes: Record<string, unknown>) => ({
      ...valid,
      postings: valid.postings.map((leg) => ({ ...leg, ...changes })),
    });
    const malformed: Array<[string, unknown]> = [
      ['an amount as a JSON number', posting({ amount: 10 })],
      ['a negative amount', posting({ amount: '-10' })],
      ['a zero amount', posting({ amount: '0' })],
      ['an amount beyond a bigint', posting({ amount: '9223372036854775808' })],
      ['a 9-digit currency', posting({ currency: '123456789' })],
      ['a lower-case currency', posting({ currency: 'usd' })],
      ['unbalanced postings', { ...valid, postings: [valid.postings[0], { ...valid.postings[1], amount: '9' }] }],
      ['one posting', { ...valid, postings: [valid.postings[0]] }],
      ['an unknown type', { ...valid, type: 'gift' }],
      ['an unknown field', { ...valid, note: 'x' }],
    ];
    for (const [what, body] of malformed) {
      const reply = await sandbox.call('POST', '/transfers', { body });
      expect([what, reply.status]).toEqual([what, 400]);
      expectProblem(reply, 400, 'VALIDATION');
    }
    expectProblem(await sandbox.call('POST', '/transfers', { rawBody: '{"type": "immediate",' }), 400, 'VALIDATION');
    for (const transfers of [[], [{ ...valid, linked: true }], [valid, valid]])
      expectProblem(await sandbox.call('POST', '/transfer-batches', { body: { transfers } }), 400, 'VALIDATION');
    const badAccount = { code: 'x', name: 'x', currency: 'XYZ', type: 'asset' };
    expectProblem(await sandbox.call('POST', '/accounts', { body: badAccount }), 400, 'VALIDATION');
    const tomorrow = encodeURIComponent(new Date(Date.now() + 86_400_000).toISOString());
    for (const query of [
      '/accounts?limit=abc',
      '/accounts?limit=0',
      `/accounts/${wallet.id}/balance?asOf=yesterday`,
      // A balance is known up to now; year 0000 or a cursor over bigint never reaches Postgres.
      `/accounts/${wallet.id}/balance?asOf=${tomorrow}`,
      `/accounts/${wallet.id}/balance?asOf=0000-06-01T00:00:00Z`,
      `/accounts/${wallet.id}/entries?cursor=9999999999999999999`,
    ])
      expectProblem(await sandbox.call('GET', query), 400, 'VALIDATION');
    expectProblem(await sandbox.call('GET', `/transfers/${valid.id}`), 404, 'NOT_FOUND');
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, creditsPosted: '1000' });
  });

  it('takes a batch of 1,000 transfers in one request (~330 KB, within the default 1 MiB body limit)', async () => {
    const cash = await sandbox.openAccount('bulk-cash', 'asset');
    const payees = await sandbox.openAccount('bulk-payees', 'liability');
    const transfers = Array.from({ length: 1_000 }, (_, n) =>
      immediate(cash, payees, '1', { category: 'disbursement', reference: `bulk-${n}` }),
    );
    const body = JSON.stringify({ transfers });
    expect(body.length).toBeGreaterThan(250_000);
    const reply = await sandbox.call('POST', '/transfer-batches', { rawBody: body });
    const { results } = expectStatus<{ results: TransferResult[] }>(reply, 200);
    expect(results.filter((result) => result.result !== 'ok')).toEqual([]);
    expect(results).toHaveLength(1_000);
    for (const command of transfers)
      applied.set(command.id, { type: 'immediate', category: 'disbursement', actor: stack.demo.clientId });
    expect(await sandbox.balances(payees.id)).toEqual({ ...ZERO, creditsPosted: '1000' });
  });

  it("expires a pending transfer whose timeout passed (the ledger's sweep) and releases its reservation", async () => {
    const { wallet, merchant } = await fundedWallet('1000');
    const pending = await apply(pendingOf(wallet, merchant, '400', 1));
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, creditsPosted: '1000', debitsPending: '400' });
    const startedMs = Date.now();
    let status = pending.pendingStatus;
    while (status !== 'expired' && Date.now() - startedMs < 5_000) {
      await sleep(100);
      status = (await sandbox.getTransfer(pending.id)).pendingStatus;
    }
    expect(status).toBe('expired');
    expiredPendingId = pending.id;
    expect(await sandbox.balances(wallet.id)).toEqual({ ...ZERO, creditsPosted: '1000' });
    const post = await sandbox.transfer({ type: 'post_pending', id: randomUUID(), pendingId: pending.id });
    expectProblem(post, 409, 'CONFLICT', 'PENDING_TRANSFER_EXPIRED');
    const { entries } = expectStatus(await sandbox.call('GET', `/accounts/${wallet.id}/entries`), 200);
    expect(entries.at(-1)).toMatchObject({ direction: 'debit', postedAmount: '0', pendingChange: '-400' });
  });

  it('publishes every applied transfer, and no refused one, to EVT_LEDGER with its category', async () => {
    expect(applied.size).toBeGreaterThan(1_000);
    const recordsOf = (event: StreamEvent) => (event.payload as PayloadOf<typeof transfersApplied>).transfers;
    const isTheExpiry = (record: AppliedTransferRecord) =>
      record.type === 'expiry' && record.pendingId === expiredPendingId;
    const events = await readStream({
      natsUrl: stack.natsUrl,
      stateDir: testStack.stateDir,
      identity: OPERATOR_IDENTITY,
      stream: 'EVT_LEDGER',
      subject: transfersApplied.subject,
      done: (read) => {
        const records = read.flatMap(recordsOf);
        const ids = new Set(records.map((record) => record.transferId));
        return [...applied.keys()].every((id) => ids.has(id)) && records.some(isTheExpiry);
      },
      timeoutMs: 30_000,
    });
    // Every event satisfies its contract and is there once (Nats-Msg-Id is the outbox id); each carries one transaction's transfers.
    const payloads = events.map((event) => transfersApplied.payload.parse(event.payload));
    expect(new Set(events.map((event) => event.eventId)).size).toBe(events.length);
    expect(events.every((event) => event.subject === transfersApplied.subject)).toBe(true);
    // This file's transfers are the demo tenant's, most in sandbox, a few by its production client.
    expect(new Set(payloads.map((payload) => payload.tenantId))).toEqual(new Set([stack.demo.tenantId]));
    expect(new Set(payloads.map((payload) => payload.environment))).toEqual(new Set(['sandbox', 'production']));
    const records = payloads.flatMap((payload) => payload.transfers);
    // Each transfer is recorded once, in one event.
    expect(new Set(records.map((record) => record.transferId)).size).toBe(records.length);
    const byTransfer = new Map(records.map((record) => [record.transferId, record]));
    expect([...applied.keys()].filter((id) => !byTransfer.has(id))).toEqual([]);
    const wrong = [...applied].filter(([id, expected]) => {
      const record = byTransfer.get(id)!;
      return record.type !== expected.type || record.category !== expected.category || record.actor !== expected.actor;
    });
    expect(wrong).toEqual([]);
    expect(records.find(isTheExpiry)).toMatchObject({ category: 'other', actor: 'ledger' });
    expect(neverApplied.filter((id) => byTransfer.has(id))).toEqual([]);
  });
});
