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
import type { LedgerFinding } from '../src/exports/export-consistency';
import { ExportSigner } from '../src/exports/export-signing';
import { EXPORT_APPLICATION_NAME, ExportsRepository } from '../src/exports/exports.repository';
import type { LedgerScope } from '../src/ledger-scope';
import { TransfersRepository } from '../src/transfers/transfers.repository';
import { TEST_TRAIL } from './support/ledger-database';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The export's reads against real Postgres: the one-cursor manifest and the paged reads agree
 * (small pages cross accounts and cut through a busy one), only the tenant's ledger of the
 * caller's environment is exported, a superuser's edit of an entry is caught by the verifier, and
 * an edit that keeps the files self-consistent is refused by the ledger before it signs.
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
    return (await accounts.create(scope, request, TEST_TRAIL)).id;
  }

  async function apply(scope: LedgerScope, ...commands: TransferCommandInput[]): Promise<void> {
    const { results } = await transfers.applyBatch(
      scope,
      commands.map((command) => ({ command: transferCommandSchema.parse(command), actor: 'test', trail: TEST_TRAIL })),
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
    return { manifest, verification: await verifyLedgerExport(outDir, { trustedKeys: await signer.publicKeys() }) };
  }

  /** Runs `statements` as a superuser with the append-only triggers off, as an attacker with the database would. */
  async function tamper(...statements: Array<[sql: string, parameters: unknown[]]>): Promise<void> {
    await superuser.query('BEGIN');
    await superuser.query('SET LOCAL session_replication_role = replica');
    for (const [sql, parameters] of statements) await superuser.query(sql, parameters);
    await superuser.query('COMMIT');
  }

  /** The findings of a manifest the ledger refused to build, as LEDGER_INCONSISTENT. */
  async function findingsOf(scope: LedgerScope, period: { from: string; to: string }): Promise<LedgerFinding[]> {
    const error = await exportsRepository.manifest(scope, { exportId: randomUUID(), ...scope, ...period }).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(PlatformError);
    expect(error).toMatchObject({ code: 'CONFLICT', details: { reason: 'LEDGER_INCONSISTENT' } });
    const findings = (error as PlatformError).details?.findings as LedgerFinding[];
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.length).toBeLessThanOrEqual(20);
    return findings;
  }

  async function entrySeqs(transferId: string): Promise<string[]> {
    const { rows } = await superuser.query<{ seq: string }>(
      'SELECT seq FROM ledger_entries WHERE transfer_id = $1 ORDER BY seq',
      [transferId],
    );
    return rows.map((row) => row.seq);
  }

  /** A ledger of two accounts and three transfers inside a period, one before it and one after. */
  async function smallLedger() {
    const scope: LedgerScope = { tenantId: randomUUID(), environment: 'production' };
    const cash = await open(scope, 'cash', 'USD', 'asset');
    const wallets = await open(scope, 'wallets', 'USD', 'liability');
    await apply(scope, move(randomUUID(), cash, wallets, '5000'));
    const from = await boundary();
    const first = randomUUID();
    const edited = randomUUID();
    await apply(scope, move(first, cash, wallets, '1000'));
    await apply(scope, move(edited, cash, wallets, '250'));
    await apply(scope, move(randomUUID(), wallets, cash, '100'));
    const to = await boundary();
    await apply(scope, move(randomUUID(), cash, wallets, '7'));
    expect((await exportAndVerify(scope, { from, to }, `untouched-${scope.tenantId}`)).verification.ok).toBe(true);
    return { scope, cash, wallets, period: { from, to }, first, edited };
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

  it('refuses to sign after a superuser rewrote one entry with the append-only trigger switched off', async () => {
    const { scope, cash, period, edited } = await smallLedger();
    const [seq] = await entrySeqs(edited);
    await tamper(['UPDATE ledger_entries SET posted_amount = 2500 WHERE seq = $1', [seq]]);

    expect(await findingsOf(scope, period)).toEqual([
      {
        transferId: edited,
        seq,
        accountId: cash,
        problem: expect.stringMatching(/differs from leg 1 of its transfer/),
      },
    ]);
  });

  it('refuses to sign books where both legs of a transfer and every later balance were rewritten to agree', async () => {
    const { scope, cash, wallets, period, edited } = await smallLedger();
    const [debit, credit] = await entrySeqs(edited);
    const later = 'seq >= $2::bigint';
    await tamper(
      ['UPDATE ledger_entries SET posted_amount = 2500 WHERE transfer_id = $1', [edited]],
      [
        `UPDATE ledger_entries SET debits_posted_after = debits_posted_after + 2250 WHERE account_id = $1 AND ${later}`,
        [cash, debit],
      ],
      [
        `UPDATE ledger_entries SET credits_posted_after = credits_posted_after + 2250 WHERE account_id = $1 AND ${later}`,
        [wallets, debit],
      ],
      ['UPDATE ledger_accounts SET debits_posted = debits_posted + 2250 WHERE id = $1', [cash]],
      ['UPDATE ledger_accounts SET credits_posted = credits_posted + 2250 WHERE id = $1', [wallets]],
    );

    expect(await findingsOf(scope, period)).toEqual([
      {
        transferId: edited,
        seq: debit,
        accountId: cash,
        problem: expect.stringMatching(/differs from leg 1 of its transfer/),
      },
      { transferId: edited, seq: credit, accountId: wallets, problem: expect.stringMatching(/differs from leg 2/) },
    ]);
  });

  it("refuses to sign books where a transfer's entries were moved back into the previous period", async () => {
    const { scope, period, first } = await smallLedger();
    const [debit, credit] = await entrySeqs(first);
    // Just before the period: each account's chain still adds up, the period opens one transfer later.
    const backdated = new Date(Date.parse(period.from) - 1).toISOString();
    await tamper(['UPDATE ledger_entries SET created_at = $2 WHERE transfer_id = $1', [first, backdated]]);

    const findings = await findingsOf(scope, period);
    expect(findings.map(({ transferId, seq }) => ({ transferId, seq }))).toEqual([
      { transferId: first, seq: debit },
      { transferId: first, seq: credit },
    ]);
    expect(findings[0]?.problem).toMatch(/^the entry is dated .*, its transfer /);
  });

  it("refuses to sign books where a transfer's entries were moved past the end of the period", async () => {
    const { scope, cash, period } = await smallLedger();
    const { rows } = await superuser.query<{ transfer_id: string }>(
      `SELECT transfer_id FROM ledger_entries WHERE account_id = $1 AND created_at < $2 ORDER BY created_at DESC, seq DESC LIMIT 1`,
      [cash, period.to],
    );
    const last = rows[0]?.transfer_id as string;
    await tamper(['UPDATE ledger_entries SET created_at = $2 WHERE transfer_id = $1', [last, period.to]]);

    const findings = await findingsOf(scope, period);
    expect(findings.map((finding) => finding.transferId)).toEqual([last, last]);
  });

  it('refuses to sign books whose stored balances differ from the balances after the last entry', async () => {
    const { scope, wallets, period } = await smallLedger();
    await tamper(['UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = $1', [wallets]]);

    expect(await findingsOf(scope, period)).toEqual([
      { accountId: wallets, seq: expect.any(String), problem: expect.stringMatching(/stored balances differ/) },
    ]);
  });

  it('refuses to sign books whose accounts changed currency or currency exponent', async () => {
    const { scope, cash, wallets, period, edited } = await smallLedger();
    await tamper(['UPDATE ledger_accounts SET currency_exponent = 3 WHERE id = $1', [cash]]);
    expect(await findingsOf(scope, period)).toEqual([
      { accountId: cash, problem: "the account's currency exponent is 3, ISO 4217's for USD is 2" },
    ]);

    await tamper(
      ['UPDATE ledger_accounts SET currency_exponent = 2 WHERE id = $1', [cash]],
      ["UPDATE ledger_accounts SET currency = 'EUR' WHERE id = ANY($1::uuid[])", [[cash, wallets]]],
    );
    expect(await findingsOf(scope, period)).toContainEqual({
      transferId: edited,
      accountId: cash,
      problem: expect.stringMatching(/^leg 1 of the transfer is in USD; its account is not/),
    });
  });

  it('builds one manifest of a ledger at a time', async () => {
    const scope: LedgerScope = { tenantId: randomUUID(), environment: 'production' };
    const period = { from: '2020-01-01T00:00:00.000Z', to: await boundary() };
    const other = await superuser.query<{ locked: boolean }>(
      `SELECT pg_try_advisory_lock(hashtextextended('strongroom.ledger-export:' || $1, 0)) AS locked`,
      [scope.tenantId],
    );
    expect(other.rows[0]?.locked).toBe(true);
    try {
      await expect(
        exportsRepository.manifest(scope, { exportId: randomUUID(), ...scope, ...period }),
      ).rejects.toMatchObject({ code: 'CONFLICT', details: { reason: 'LEDGER_EXPORT_IN_PROGRESS' } });
      const elsewhere: LedgerScope = { tenantId: randomUUID(), environment: 'production' };
      await expect(
        exportsRepository.manifest(elsewhere, { exportId: randomUUID(), ...elsewhere, ...period }),
      ).resolves.toMatchObject({ accounts: 0 });
    } finally {
      await superuser.query(`SELECT pg_advisory_unlock(hashtextextended('strongroom.ledger-export:' || $1, 0))`, [
        scope.tenantId,
      ]);
    }
  });

  it("does not wait for another export's transaction, which writes nothing", async () => {
    const scope: LedgerScope = { tenantId: randomUUID(), environment: 'production' };
    const from = await boundary();
    const exporter = new Client({ connectionString: database.runtimeUrl });
    await exporter.connect();
    try {
      await exporter.query('BEGIN');
      await exporter.query("SELECT set_config('application_name', $1, true)", [EXPORT_APPLICATION_NAME]);
      const to = await boundary();
      const started = Date.now();
      await exportsRepository.manifest(scope, { exportId: randomUUID(), ...scope, from, to });
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await exporter.query('ROLLBACK');
      await exporter.end();
    }
  });
});
