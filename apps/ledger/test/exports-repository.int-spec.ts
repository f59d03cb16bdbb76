import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LedgerExportApi, verifyLedgerExport, writeLedgerExport } from '@strongroom/cli';
import {
  createLedgerAccount,
  type LedgerAccountType,
  type TransferCommandInput,
  transferCommandSchema,
} from '@strongroom/contracts';
import {
  createServiceDataSource,
  LocalSecretsProvider,
  PlatformError,
  RegionalDatabases,
  withDatabase,
} from '@strongroom/platform';
import { createTestDatabase, type TestDatabase } from '@strongroom/testing';
import { Client } from 'pg';
import pino from 'pino';
import type { DataSource } from 'typeorm';
import { migrations } from '../migrations';
import { AccountsRepository } from '../src/accounts/accounts.repository';
import { ExportSigner } from '../src/exports/export-signing';
import { ExportsRepository } from '../src/exports/exports.repository';
import type { LedgerScope } from '../src/ledger-scope';
import { TransfersRepository } from '../src/transfers/transfers.repository';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The export's reads against real Postgres: the one-cursor manifest and the paged reads agree
 * (small pages cross accounts and cut through a busy one), only the tenant's ledger of the
 * caller's environment is exported, and a superuser's edit of an entry is caught by the verifier.
 */
describe('ledger exports (real Postgres)', () => {
  let database: TestDatabase;
  let dataSource: DataSource;
  let databases: RegionalDatabases;
  let superuser: Client;
  let accounts: AccountsRepository;
  let transfers: TransfersRepository;
  let exportsRepository: ExportsRepository;
  let signer: ExportSigner;
  let dir: string;

  beforeAll(async () => {
    database = await createTestDatabase('ledger_exports', migrations);
    dataSource = createServiceDataSource({ url: database.runtimeUrl, applicationName: 'ledger-test', poolSize: 4 });
    await dataSource.initialize();
    databases = await RegionalDatabases.open({
      service: 'ledger',
      defaultDataSource: dataSource,
      regions: {},
      migrations: [],
      migrateOnStart: false,
      resolver: { regionOf: async () => 'default' },
    });
    superuser = new Client({ connectionString: withDatabase(database.adminUrl, database.databaseName) });
    await superuser.connect();
    accounts = new AccountsRepository(databases);
    transfers = new TransfersRepository(databases);
    exportsRepository = new ExportsRepository(databases);
    dir = await mkdtemp(join(tmpdir(), 'ledger-exports-int-'));
    const secrets = new LocalSecretsProvider({
      stateDir: join(dir, 'secrets'),
      logger: pino({ level: 'silent' }),
      nodeEnv: 'test',
    });
    signer = new ExportSigner({ secrets });
  });

  afterAll(async () => {
    await databases?.close();
    if (dataSource?.isInitialized) await dataSource.destroy();
    await superuser?.end();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  /** The export calls as the handler makes them, on the repository. */
  function apiOf(scope: LedgerScope): LedgerExportApi {
    return {
      async create(input) {
        const from = new Date(input.from).toISOString();
        const to = new Date(input.to).toISOString();
        const manifest = await exportsRepository.manifest(scope, { exportId: randomUUID(), ...scope, from, to });
        const { signature, signingKey } = await signer.sign(manifest);
        return { manifest, signature, signingKey };
      },
      balances: ({ from, to, limit, cursor }) =>
        exportsRepository.balances(scope, { from, to }, { limit: limit ?? 1_000, ...(cursor ? { cursor } : {}) }),
      entries: ({ from, to, limit, cursor }) =>
        exportsRepository.entries(scope, { from, to }, { limit: limit ?? 1_000, ...(cursor ? { cursor } : {}) }),
    };
  }

  async function open(scope: LedgerScope, code: string, currency: string, type: LedgerAccountType): Promise<string> {
    const request = createLedgerAccount.request.parse({ tenantId: scope.tenantId, code, name: code, currency, type });
    return (await accounts.create(scope, request)).id;
  }

  async function apply(scope: LedgerScope, ...commands: TransferCommandInput[]): Promise<void> {
    const { results } = await transfers.applyBatch(
      scope,
      commands.map((command) => ({ command: transferCommandSchema.parse(command), actor: 'test' })),
    );
    expect(results.map((result) => result.result)).toEqual(commands.map(() => 'ok'));
  }

  const move = (id: string, debit: string, credit: string, amount: string, currency = 'USD') => ({
    type: 'immediate' as const,
    id,
    postings: [
      { accountId: debit, direction: 'debit' as const, amount, currency },
      { accountId: credit, direction: 'credit' as const, amount, currency },
    ],
  });

  /** An instant (ms) after every entry written so far and before any written next. */
  async function boundary(): Promise<string> {
    const { rows } = await superuser.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    await sleep(3);
    return new Date((rows[0] as { now: Date }).now.getTime() + 1).toISOString();
  }

  async function exportAndVerify(scope: LedgerScope, period: { from: string; to: string }, name: string) {
    const outDir = join(dir, name);
    const manifest = await writeLedgerExport({
      api: apiOf(scope),
      tenantId: scope.tenantId,
      ...period,
      outDir,
      pageLimit: 2,
    });
    return { manifest, verification: await verifyLedgerExport(outDir) };
  }

  it('exports a period that reconciles: opening and closing balances, every entry, the trial balance per currency', async () => {
    const scope: LedgerScope = { tenantId: randomUUID(), environment: 'production' };
    const sandbox: LedgerScope = { ...scope, environment: 'sandbox' };
    const cash = await open(scope, '1000-cash', 'USD', 'asset');
    const wallets = await open(scope, '2000-wallets', 'USD', 'liability');
    const fees = await open(scope, '4000-fees', 'USD', 'income');
    const cashEur = await open(scope, '1100-cash-eur', 'EUR', 'asset');
    const walletsEur = await open(scope, '2100-wallets-eur', 'EUR', 'liability');
    await open(scope, '3000-equity', 'USD', 'equity');
    const sandboxCash = await open(sandbox, '1000-cash', 'USD', 'asset');
    const sandboxWallets = await open(sandbox, '2000-wallets', 'USD', 'liability');
    await apply(scope, move(randomUUID(), cash, wallets, '100000'));
    const from = await boundary();

    const pending = randomUUID();
    const reversed = randomUUID();
    await apply(scope, move(randomUUID(), cash, wallets, '2500'), move(reversed, cash, wallets, '700'));
    await apply(scope, {
      type: 'pending',
      id: pending,
      postings: [
        { accountId: wallets, direction: 'debit', amount: '300', currency: 'USD' },
        { accountId: fees, direction: 'credit', amount: '300', currency: 'USD' },
      ],
    });
    await apply(scope, {
      type: 'post_pending',
      id: randomUUID(),
      pendingId: pending,
      postings: [
        { accountId: wallets, direction: 'debit', amount: '200', currency: 'USD' },
        { accountId: fees, direction: 'credit', amount: '200', currency: 'USD' },
      ],
    });
    await apply(scope, { type: 'reversal', id: randomUUID(), reversesId: reversed });
    await apply(scope, move(randomUUID(), cashEur, walletsEur, '7000', 'EUR'));
    for (let index = 0; index < 5; index += 1) await apply(scope, move(randomUUID(), cash, wallets, `${index + 1}`));
    await apply(sandbox, move(randomUUID(), sandboxCash, sandboxWallets, '999'));
    const to = await boundary();
    await apply(scope, move(randomUUID(), cash, wallets, '1'));

    const { manifest, verification } = await exportAndVerify(scope, { from, to }, 'reconciles');
    expect(verification).toMatchObject({ ok: true, problems: [] });
    // 2 + 2 (the pair) + 2 + 2 (pending, post) + 2 (reversal) + 2 (EUR) + 10 (five small moves).
    expect(manifest).toMatchObject({ environment: 'production', accounts: 6, entries: 22, from, to });
    expect(manifest.trialBalance).toEqual([
      expect.objectContaining({ currency: 'EUR', periodDebits: '7000', closingDebitsPosted: '7000' }),
      expect.objectContaining({
        currency: 'USD',
        accounts: 4,
        openingDebitsPosted: '100000',
        openingCreditsPosted: '100000',
        periodDebits: String(2500 + 700 + 200 + 700 + 15),
        closingDebitsPosted: String(100000 + 2500 + 700 + 200 + 700 + 15),
      }),
    ]);
    // The next period opens where this one closed.
    const next = await exportAndVerify(scope, { from: to, to: await boundary() }, 'next');
    expect(next.verification.ok).toBe(true);
    expect(next.manifest.entries).toBe(2);
    expect(next.manifest.trialBalance.map((totals) => totals.openingDebitsPosted)).toEqual(
      manifest.trialBalance.map((totals) => totals.closingDebitsPosted),
    );
  });

  it('refuses a period that has not ended, and a cursor of another ledger', async () => {
    const scope: LedgerScope = { tenantId: randomUUID(), environment: 'production' };
    const future = { from: new Date().toISOString(), to: new Date(Date.now() + 60_000).toISOString() };
    await expect(
      exportsRepository.manifest(scope, { exportId: randomUUID(), ...scope, ...future }),
    ).rejects.toMatchObject({
      code: 'VALIDATION',
    });
    const other: LedgerScope = { tenantId: randomUUID(), environment: 'production' };
    const a = await open(other, 'a', 'USD', 'asset');
    const b = await open(other, 'b', 'USD', 'asset');
    await apply(other, move(randomUUID(), a, b, '5'));
    const period = { from: '2020-01-01T00:00:00.000Z', to: await boundary() };
    const page = await exportsRepository.entries(other, period, { limit: 1 });
    expect(page.entries).toHaveLength(1);
    const stolen = exportsRepository.entries(scope, period, { limit: 1, cursor: page.nextCursor ?? '' });
    await expect(stolen).rejects.toBeInstanceOf(PlatformError);
    await expect(stolen).rejects.toMatchObject({ code: 'VALIDATION' });
    const sandbox = exportsRepository.entries({ ...other, environment: 'sandbox' }, period, {
      limit: 1,
      cursor: page.nextCursor ?? '',
    });
    await expect(sandbox).rejects.toMatchObject({ code: 'VALIDATION' });
  });

  it('waits for a ledger transaction begun before the end of the period, so its entries cannot be missed', async () => {
    const scope: LedgerScope = { tenantId: randomUUID(), environment: 'production' };
    const from = await boundary();
    const straggler = new Client({ connectionString: database.runtimeUrl });
    await straggler.connect();
    await straggler.query('BEGIN');
    await straggler.query('SELECT 1');
    const to = await boundary();
    const started = Date.now();
    setTimeout(() => void straggler.query('COMMIT').then(() => straggler.end()), 300);
    await exportsRepository.manifest(scope, { exportId: randomUUID(), ...scope, from, to });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('catches a superuser who rewrote an entry with the append-only trigger switched off', async () => {
    const scope: LedgerScope = { tenantId: randomUUID(), environment: 'production' };
    const cash = await open(scope, 'cash', 'USD', 'asset');
    const wallets = await open(scope, 'wallets', 'USD', 'liability');
    const from = await boundary();
    const edited = randomUUID();
    await apply(scope, move(randomUUID(), cash, wallets, '1000'));
    await apply(scope, move(edited, cash, wallets, '250'));
    await apply(scope, move(randomUUID(), wallets, cash, '100'));
    const to = await boundary();
    expect((await exportAndVerify(scope, { from, to }, 'before-edit')).verification.ok).toBe(true);

    const { rows } = await superuser.query<{ seq: string }>(
      `SELECT seq FROM ledger_entries WHERE transfer_id = $1 AND direction = 'debit'`,
      [edited],
    );
    const seq = rows[0]?.seq as string;
    await superuser.query('BEGIN');
    await superuser.query('SET LOCAL session_replication_role = replica');
    await superuser.query('UPDATE ledger_entries SET posted_amount = 2500 WHERE seq = $1', [seq]);
    await superuser.query('COMMIT');

    const { verification } = await exportAndVerify(scope, { from, to }, 'after-edit');
    expect(verification.ok).toBe(false);
    expect(verification.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^entry ${seq} \\(account cash, transfer ${edited}\\): its balances after`)),
        expect.stringMatching(new RegExp(`^transfer ${edited} \\(entries .*\\): debits and credits differ in USD`)),
      ]),
    );
  });
});
