import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type LedgerExportApi,
  LedgerExportError,
  ledgerExportApiOverGateway,
  ledgerExportCommand,
  ledgerVerifyExportCommand,
  ProblemList,
  reconcileAccounts,
  TRANSFER_CHECK_ENTRIES_PER_PASS,
  TransferBalances,
  transferPassesFor,
  verifyLedgerExport,
  writeLedgerExport,
} from '@strongroom/cli';
import {
  canonicalJson,
  type LedgerAccountType,
  type LedgerExportBalance,
  type LedgerExportEntry,
  type LedgerExportManifest,
} from '@strongroom/contracts';
import { LocalSecretsProvider } from '@strongroom/platform';
import pino from 'pino';
import { ExportManifestBuilder } from '../src/exports/export-manifest';
import { ExportSigner } from '../src/exports/export-signing';

const tenantId = '0b7c6f1e-2f0a-4d8e-9a51-3c2d1e0f9a8b';
const FROM = '2025-04-01T00:00:00.000Z';
const TO = '2025-07-01T00:00:00.000Z';

interface Account {
  accountId: string;
  code: string;
  type: LedgerAccountType;
  currency: string;
  currencyExponent: number;
}

const uuid = (n: number) => `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;
const cash: Account = { accountId: uuid(1), code: '1000-cash', type: 'asset', currency: 'USD', currencyExponent: 2 };
const wallets: Account = {
  accountId: uuid(2),
  code: '2000-wallets',
  type: 'liability',
  currency: 'USD',
  currencyExponent: 2,
};
const fees: Account = { accountId: uuid(3), code: '4000-fees', type: 'income', currency: 'USD', currencyExponent: 2 };
const cashEur: Account = {
  accountId: uuid(4),
  code: '1100-cash-eur',
  type: 'asset',
  currency: 'EUR',
  currencyExponent: 2,
};
const walletsEur: Account = {
  accountId: uuid(5),
  code: '2100-wallets-eur',
  type: 'liability',
  currency: 'EUR',
  currencyExponent: 2,
};
const dormant: Account = {
  accountId: uuid(6),
  code: '3000-equity',
  type: 'equity',
  currency: 'USD',
  currencyExponent: 2,
};
const ACCOUNTS = [cash, wallets, fees, cashEur, walletsEur, dormant];

/** One balance change of a transfer: the posted amount and the pending change on `direction`'s side. */
type Move = [Account, 'debit' | 'credit', posted: bigint, pending: bigint];

/** Transfers as the ledger applies them: one before the period, the period's, one at its (exclusive) end. */
const TRANSFERS: Array<{ id: string; at: string; moves: Move[] }> = [
  {
    id: uuid(101),
    at: '2025-03-31T23:59:59.999Z',
    moves: [
      [cash, 'debit', 100_000n, 0n],
      [wallets, 'credit', 100_000n, 0n],
    ],
  },
  {
    id: uuid(102),
    at: FROM,
    moves: [
      [cash, 'debit', 2_500n, 0n],
      [wallets, 'credit', 2_500n, 0n],
    ],
  },
  {
    id: uuid(103),
    at: '2025-05-10T10:00:00.000Z',
    moves: [
      [wallets, 'debit', 0n, 300n],
      [fees, 'credit', 0n, 300n],
    ],
  },
  {
    id: uuid(104),
    at: '2025-05-11T10:00:00.000Z',
    moves: [
      [wallets, 'debit', 300n, -300n],
      [fees, 'credit', 300n, -300n],
    ],
  },
  {
    id: uuid(105),
    at: '2025-06-01T08:30:00.000Z',
    moves: [
      [cashEur, 'debit', 7_000n, 0n],
      [walletsEur, 'credit', 7_000n, 0n],
    ],
  },
  {
    id: uuid(106),
    at: '2025-06-30T23:59:59.999Z',
    moves: [
      [wallets, 'debit', 0n, 40n],
      [cash, 'credit', 0n, 40n],
    ],
  },
  {
    id: uuid(107),
    at: TO,
    moves: [
      [cash, 'debit', 1n, 0n],
      [wallets, 'credit', 1n, 0n],
    ],
  },
];

interface Scenario {
  accounts: LedgerExportBalance[];
  entries: LedgerExportEntry[];
}

/** The export of TRANSFERS for [FROM, TO), in export order (account code, then time), as the ledger would produce it. */
function scenario(): Scenario {
  const zero = () => ({ debitsPosted: 0n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n });
  const balances = new Map(ACCOUNTS.map((account) => [account.accountId, zero()]));
  const snapshot = (id: string) =>
    Object.fromEntries(Object.entries(balances.get(id) ?? zero()).map(([side, value]) => [side, String(value)]));
  const opening = new Map<string, ReturnType<typeof snapshot>>();
  const closing = new Map<string, ReturnType<typeof snapshot>>();
  const entries: LedgerExportEntry[] = [];
  let seq = 0;
  for (const transfer of TRANSFERS) {
    if (transfer.at >= FROM && opening.size === 0)
      for (const a of ACCOUNTS) opening.set(a.accountId, snapshot(a.accountId));
    if (transfer.at >= TO && closing.size === 0)
      for (const a of ACCOUNTS) closing.set(a.accountId, snapshot(a.accountId));
    for (const [account, direction, posted, pending] of transfer.moves) {
      const b = balances.get(account.accountId) ?? zero();
      if (direction === 'debit') {
        b.debitsPosted += posted;
        b.debitsPending += pending;
      } else {
        b.creditsPosted += posted;
        b.creditsPending += pending;
      }
      seq += 1;
      if (transfer.at < FROM || transfer.at >= TO) continue;
      entries.push({
        seq: String(seq),
        occurredAt: transfer.at,
        transferId: transfer.id,
        accountId: account.accountId,
        accountCode: account.code,
        currency: account.currency,
        direction,
        postedAmount: String(posted),
        pendingChange: String(pending),
        debitsPostedAfter: String(b.debitsPosted),
        creditsPostedAfter: String(b.creditsPosted),
        debitsPendingAfter: String(b.debitsPending),
        creditsPendingAfter: String(b.creditsPending),
      });
    }
  }
  const byCode = [...ACCOUNTS].sort((a, b) => (a.code < b.code ? -1 : 1));
  const order = new Map(byCode.map((account, index) => [account.accountId, index]));
  entries.sort(
    (a, b) => (order.get(a.accountId) ?? 0) - (order.get(b.accountId) ?? 0) || Number(a.seq) - Number(b.seq),
  );
  return {
    accounts: byCode.map((account) => ({
      ...account,
      opening: opening.get(account.accountId) as LedgerExportBalance['opening'],
      closing: closing.get(account.accountId) as LedgerExportBalance['closing'],
    })),
    entries,
  };
}

function manifestOf(data: Scenario): LedgerExportManifest {
  const builder = new ExportManifestBuilder();
  for (const account of data.accounts) {
    builder.addAccount(account);
    for (const entry of data.entries.filter((e) => e.accountId === account.accountId)) builder.addEntry(entry);
  }
  return builder.manifest({
    exportId: uuid(900),
    tenantId,
    environment: 'production',
    from: FROM,
    to: TO,
    createdAt: '2025-07-02T00:00:00.000Z',
  });
}

/** The ledger's three export calls over in-memory rows, signed as the service signs. */
function fakeLedger(data: Scenario, signer: ExportSigner, pages: Scenario = data): LedgerExportApi {
  const after = <T>(rows: T[], cursor: string | undefined, key: (row: T) => string, limit = 1_000) => {
    const start = cursor === undefined ? 0 : rows.findIndex((row) => key(row) === cursor) + 1;
    const page = rows.slice(start, start + limit);
    return { page, nextCursor: start + limit < rows.length ? key(page.at(-1) as T) : null };
  };
  return {
    async create() {
      const manifest = manifestOf(data);
      const { signature, signingKey } = await signer.sign(manifest);
      return { manifest, signature, signingKey };
    },
    async balances(input) {
      const { page, nextCursor } = after(pages.accounts, input.cursor, (row) => row.code, input.limit);
      return { accounts: page, nextCursor };
    },
    async entries(input) {
      const { page, nextCursor } = after(pages.entries, input.cursor, (row) => row.seq, input.limit);
      return { entries: page, nextCursor };
    },
  };
}

async function* streamOf<T>(rows: readonly T[]): AsyncGenerator<T> {
  yield* rows;
}

async function problemsOf(data: Scenario, manifest = manifestOf(data)): Promise<string[]> {
  const problems = new ProblemList();
  await reconcileAccounts(manifest, streamOf(data.accounts), streamOf(data.entries), problems);
  const transfers = new TransferBalances(0, 1, problems);
  for (const entry of data.entries) transfers.add(entry);
  transfers.finish();
  return problems.described;
}

/** The scenario with entry `seq` changed by `change` (as a superuser editing the table would). */
function edited(seq: string, change: Partial<LedgerExportEntry>): Scenario {
  const data = scenario();
  return { ...data, entries: data.entries.map((entry) => (entry.seq === seq ? { ...entry, ...change } : entry)) };
}

describe('reconciling an export (the checks of `strongroom ledger verify-export`)', () => {
  it('finds nothing wrong with the books as the ledger wrote them', async () => {
    const data = scenario();
    expect(data.entries).toHaveLength(10);
    expect(await problemsOf(data)).toEqual([]);
  });

  it('names the entry whose amount was edited: its running balance and its transfer no longer add up', async () => {
    const problems = await problemsOf(edited('3', { postedAmount: '2600' }));
    expect(problems).toEqual([
      expect.stringMatching(
        /^entry 3 \(account 1000-cash, transfer 00000102-.*debitsPosted 102600 expected, 102500 found/,
      ),
      'trial balance USD: debits 2900 and credits 2800 differ over the period',
      "trial balance USD: opening debits plus the period's are not the closing debits",
      expect.stringMatching(/^transfer 00000102-.* \(entries 3, 4\): debits and credits differ in USD \(posted by 100/),
    ]);
  });

  it('names an account whose edited balances no longer lead from its opening to its closing', async () => {
    const problems = await problemsOf(edited('6', { creditsPendingAfter: '0' }));
    expect(problems).toEqual([
      expect.stringMatching(/^entry 6 \(account 4000-fees.*creditsPending 300 expected, 0 found/),
      expect.stringMatching(/^entry 8 \(account 4000-fees.*creditsPending -300 expected, 0 found/),
    ]);
  });

  it('names an entry moved out of the period, and its transfer split across two times', async () => {
    const problems = await problemsOf(edited('11', { occurredAt: '2025-07-01T00:00:00.000Z' }));
    expect(problems).toContainEqual(expect.stringMatching(/^entry 11 .*outside the period/));
    expect(problems).toContainEqual(expect.stringMatching(/^transfer 00000106-.*entry (11|12) has another time/));
  });

  it('refuses a manifest whose trial balance is not the one of the files', async () => {
    const data = scenario();
    const manifest = manifestOf(data);
    const forged = {
      ...manifest,
      trialBalance: manifest.trialBalance.map((totals) => ({ ...totals, closingDebitsPosted: '1' })),
    };
    const problems = await problemsOf(data, forged);
    expect(problems).toEqual([
      "trial balance USD: the manifest's totals are not those of the files",
      "trial balance EUR: the manifest's totals are not those of the files",
    ]);
  });

  it('names entries out of export order and entries of no listed account', async () => {
    const data = scenario();
    const [first, ...rest] = data.entries;
    const problems = await problemsOf({ ...data, entries: [...rest, first as LedgerExportEntry] });
    expect(problems).toContainEqual(expect.stringMatching(/^entry 12 \(account 1000-cash.*do not follow/));
    expect(problems).toContainEqual('the export holds 9 entries, the manifest says 10');
    expect(problems).toContainEqual(expect.stringMatching(/^entry 3: its account .* out of export order/));
  });

  it('still finds an unbalanced transfer when the entries take several passes', async () => {
    const data = edited('9', { postedAmount: '6999' });
    const problems = new ProblemList();
    const passes = transferPassesFor(3 * TRANSFER_CHECK_ENTRIES_PER_PASS);
    expect(passes).toBe(3);
    for (let pass = 0; pass < passes; pass += 1) {
      const share = new TransferBalances(pass, passes, problems);
      for (const entry of data.entries) share.add(entry);
      share.finish();
    }
    expect(problems.described).toEqual([expect.stringMatching(/^transfer 00000105-.*differ in EUR \(posted by -1,/)]);
  });
});

describe('writing and verifying an export directory', () => {
  let dir: string;
  let signer: ExportSigner;
  const log: string[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ledger-export-'));
    const secrets = new LocalSecretsProvider({
      stateDir: join(dir, 'secrets'),
      logger: pino({ level: 'silent' }),
      nodeEnv: 'test',
    });
    signer = new ExportSigner({ secrets });
    log.length = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const write = (data = scenario(), pages?: Scenario) =>
    writeLedgerExport({
      api: fakeLedger(data, signer, pages),
      tenantId,
      from: FROM,
      to: TO,
      outDir: join(dir, 'export'),
      pageLimit: 3,
    });
  const verifyCli = (publicKey?: string) =>
    ledgerVerifyExportCommand.run(
      { dir: join(dir, 'export'), ...(publicKey !== undefined ? { 'public-key': publicKey } : {}) },
      (line) => log.push(line),
    );

  it('writes the seven files page by page, and verifies them offline', async () => {
    const manifest = await write();
    const verification = await verifyLedgerExport(join(dir, 'export'));
    expect(verification).toMatchObject({ ok: true, problems: [], manifest, key: { version: 1, pinned: false } });
    const entriesCsv = await readFile(join(dir, 'export', 'entries.csv'), 'utf8');
    expect(entriesCsv.split('\r\n')).toHaveLength(1 + 10 + 1);
    expect(await verifyCli()).toBe(0);
    expect(log.join('\n')).toMatch(
      /verified: 10 entries, 6 accounts[\s\S]*USD: closing debits USD 1028\.00 = credits USD 1028\.00/,
    );
  });

  it('refuses to overwrite an export, and to finish one whose pages differ from the signed manifest', async () => {
    await write();
    await expect(write()).rejects.toMatchObject({ code: 'EXPORT_EXISTS' });
    await rm(join(dir, 'export'), { recursive: true });
    const changed = write(scenario(), edited('3', { postedAmount: '2600' }));
    await expect(changed).rejects.toBeInstanceOf(LedgerExportError);
    await expect(changed).rejects.toMatchObject({ code: 'EXPORT_CHANGED' });
  });

  it('fails the export of edited books, naming the entry, though its manifest is genuinely signed', async () => {
    await write(edited('3', { postedAmount: '2600' }));
    expect(await verifyCli()).toBe(1);
    expect(log[0]).toMatch(/FAILED verification: 4 problem/);
    expect(log.join('\n')).toMatch(/entry 3 \(account 1000-cash/);
  });

  it('detects a file altered after signing', async () => {
    await write();
    const path = join(dir, 'export', 'entries.csv');
    await writeFile(path, (await readFile(path, 'utf8')).replace(',2500,', ',2600,'));
    const verification = await verifyLedgerExport(join(dir, 'export'));
    expect(verification.ok).toBe(false);
    expect(verification.problems).toEqual([
      'entries.csv: its SHA-256 is not the one the manifest signed (the file was altered or cut short)',
      expect.stringMatching(/^entries.csv line \d+: not entry 3 of the NDJSON/),
    ]);
  });

  it('refuses a forged signature, and a manifest re-signed by another key once the platform key is pinned', async () => {
    await write();
    const exportDir = join(dir, 'export');
    const platformKey = join(dir, 'platform-key.json');
    await writeFile(platformKey, await readFile(join(exportDir, 'public-key.json')));
    const signature = (await readFile(join(exportDir, 'manifest.sig'), 'utf8')).trim();
    const payload = Buffer.from(signature.split(':')[2] as string, 'base64');
    payload[0] = (payload[0] as number) ^ 1;
    await writeFile(join(exportDir, 'manifest.sig'), `local:v1:${payload.toString('base64')}\n`);
    expect((await verifyLedgerExport(exportDir)).problems).toEqual([
      'manifest.sig is not a valid signature of manifest.json by the key of the export',
    ]);

    // A forger re-signs with a key of their own and ships its public key with the export.
    const forger = generateKeyPairSync('ed25519');
    const manifestBytes = await readFile(join(exportDir, 'manifest.json'));
    const forged = sign(null, manifestBytes, forger.privateKey).toString('base64');
    const raw = forger.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    await writeFile(join(exportDir, 'manifest.sig'), `local:v1:${forged}\n`);
    await writeFile(
      join(exportDir, 'public-key.json'),
      canonicalJson({ name: 'ledger-export-signing', version: 1, algorithm: 'Ed25519', publicKey: raw }),
    );
    expect((await verifyLedgerExport(exportDir)).ok).toBe(true);
    expect(await verifyCli(platformKey)).toBe(1);
    expect(log.join('\n')).toMatch(/manifest.sig is not a valid signature of manifest.json by any of the trusted keys/);
  });

  it('reports a missing file instead of verifying part of an export', async () => {
    await write();
    await rm(join(dir, 'export', 'balances.csv'));
    expect((await verifyLedgerExport(join(dir, 'export'))).problems).toEqual(['the export is missing balances.csv']);
  });
});

describe('the export calls through the gateway (the transport of `strongroom ledger export`)', () => {
  const data = scenario();
  const manifest = manifestOf(data);

  function stubGateway(answer: (url: URL, init: RequestInit) => { status: number; body: unknown }) {
    const calls: Array<{ method: string; url: URL; body: unknown; authorization: string | undefined }> = [];
    const fetchStub = (async (input: string | URL | Request, init: RequestInit = {}) => {
      const url = new URL(String(input));
      const headers = init.headers as Record<string, string>;
      calls.push({
        method: init.method ?? 'GET',
        url,
        body: init.body === undefined ? undefined : JSON.parse(String(init.body)),
        authorization: headers.authorization,
      });
      const { status, body } = answer(url, init);
      return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const api = ledgerExportApiOverGateway({
      gatewayUrl: 'http://gateway.test/',
      accessToken: 'tok',
      fetch: fetchStub,
    });
    return { api, calls };
  }

  it("posts the period to the tenant's exports and pages with from, to, limit and cursor", async () => {
    const { api, calls } = stubGateway((url) => ({
      status: 200,
      body: url.pathname.endsWith('/entries')
        ? { entries: data.entries.slice(0, 1), nextCursor: null }
        : {
            manifest,
            signature: 'local:v1:AAAA',
            signingKey: { name: 'k', version: 1, algorithm: 'Ed25519', publicKey: 'AAAA' },
          },
    }));
    await api.create({ tenantId, from: FROM, to: TO });
    const page = await api.entries({ tenantId, from: FROM, to: TO, limit: 2, cursor: '7' });
    expect(page.entries).toEqual(data.entries.slice(0, 1));
    expect(calls.map((c) => [c.method, c.url.pathname, c.url.search])).toEqual([
      ['POST', `/v1/tenants/${tenantId}/ledger/exports`, ''],
      [
        'GET',
        `/v1/tenants/${tenantId}/ledger/exports/entries`,
        `?from=${encodeURIComponent(FROM)}&to=${encodeURIComponent(TO)}&limit=2&cursor=7`,
      ],
    ]);
    expect(calls[0]?.body).toEqual({ from: FROM, to: TO });
    expect(calls.every((c) => c.authorization === 'Bearer tok')).toBe(true);
  });

  it('turns a problem into an error naming the status and the code, and refuses a reply outside the contract', async () => {
    const refusing = stubGateway(() => ({
      status: 403,
      body: { code: 'FORBIDDEN', detail: 'The caller lacks the permission ledger.exports.create' },
    }));
    await expect(refusing.api.balances({ tenantId, from: FROM, to: TO })).rejects.toMatchObject({
      code: 'EXPORT_REFUSED',
      message: expect.stringMatching(/403 FORBIDDEN: The caller lacks the permission ledger.exports.create/),
    });
    const garbled = stubGateway(() => ({ status: 200, body: { accounts: 'none' } }));
    await expect(garbled.api.balances({ tenantId, from: FROM, to: TO })).rejects.toThrow(/outside its contract/);
  });

  it('asks for the access token in the environment, never on the command line', async () => {
    const saved = process.env.STRONGROOM_ACCESS_TOKEN;
    delete process.env.STRONGROOM_ACCESS_TOKEN;
    try {
      await expect(
        ledgerExportCommand.run({ tenant: tenantId, from: FROM, to: TO, out: '/tmp/x' }, () => {}),
      ).rejects.toThrow(/set STRONGROOM_ACCESS_TOKEN/);
    } finally {
      if (saved !== undefined) process.env.STRONGROOM_ACCESS_TOKEN = saved;
    }
  });
});
