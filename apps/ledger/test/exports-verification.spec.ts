import { createHash, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import {
  boundedLinesOf,
  LEDGER_EXPORT_LINE_BYTES_MAX,
  type LedgerExportApi,
  LedgerExportError,
  ledgerExportApiOverGateway,
  ledgerExportCommand,
  ledgerExportKeysCommand,
  ledgerExportSigningKeysOverGateway,
  ledgerVerifyExportCommand,
  ProblemList,
  reconcileAccounts,
  TRANSFER_CHECK_ENTRIES_PER_PASS,
  TransferBalances,
  transferPassesFor,
  type VerifyLedgerExportOptions,
  verifyLedgerExport,
  writeLedgerExport,
} from '@strongroom/cli';
import {
  canonicalJson,
  LEDGER_EXPORT_DIGESTED_FILES,
  LEDGER_EXPORT_SIGNING_KEY,
  type LedgerAccountType,
  type LedgerExportBalance,
  type LedgerExportEntry,
  type LedgerExportManifest,
  type LedgerExportSigningKey,
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

/**
 * Re-signs an export as a forger would: `change` applied to its manifest, the digests of the files
 * as they now are, a key of the forger's own shipped as public-key.json. Returns that key.
 */
async function forge(
  exportDir: string,
  change: (manifest: LedgerExportManifest) => LedgerExportManifest = (manifest) => manifest,
): Promise<LedgerExportSigningKey> {
  const forger = generateKeyPairSync('ed25519');
  const manifest = JSON.parse(await readFile(join(exportDir, 'manifest.json'), 'utf8')) as LedgerExportManifest;
  const files = { ...manifest.files };
  for (const name of LEDGER_EXPORT_DIGESTED_FILES) {
    const bytes = await readFile(join(exportDir, name));
    files[name] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  }
  const bytes = Buffer.from(canonicalJson(change({ ...manifest, files })), 'utf8');
  await writeFile(join(exportDir, 'manifest.json'), bytes);
  await writeFile(
    join(exportDir, 'manifest.sig'),
    `local:v1:${sign(null, bytes, forger.privateKey).toString('base64')}\n`,
  );
  const raw = forger.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
  const key = { name: LEDGER_EXPORT_SIGNING_KEY, version: 1, algorithm: 'Ed25519' as const, publicKey: raw };
  await writeFile(join(exportDir, 'public-key.json'), canonicalJson(key));
  return key;
}

describe('writing and verifying an export directory', () => {
  let dir: string;
  let exportDir: string;
  let signer: ExportSigner;
  /** The platform's key, as `strongroom ledger export-keys` pins it (one array of key versions). */
  let pinnedKeys: string;
  let platformKey: LedgerExportSigningKey;
  const log: string[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ledger-export-'));
    exportDir = join(dir, 'export');
    const secrets = new LocalSecretsProvider({
      stateDir: join(dir, 'secrets'),
      logger: pino({ level: 'silent' }),
      nodeEnv: 'test',
    });
    signer = new ExportSigner({ secrets });
    platformKey = (await signer.sign(manifestOf(scenario()))).signingKey;
    pinnedKeys = join(dir, 'platform-keys.json');
    await writeFile(pinnedKeys, canonicalJson([platformKey]));
    log.length = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const write = (data = scenario(), pages?: Scenario, api = fakeLedger(data, signer, pages)) =>
    writeLedgerExport({ api, tenantId, from: FROM, to: TO, outDir: exportDir, pageLimit: 3 });
  const pinned = (): VerifyLedgerExportOptions => ({ trustedKeys: [platformKey] });
  const verifyCli = (...args: Array<'--trust-embedded-key' | string>) =>
    ledgerVerifyExportCommand.run(
      {
        dir: exportDir,
        ...(args.includes('--trust-embedded-key') ? { 'trust-embedded-key': true } : {}),
        ...Object.fromEntries(args.filter((arg) => arg !== '--trust-embedded-key').map((file) => ['public-key', file])),
      },
      (line) => log.push(line),
    );

  it('writes the seven files page by page, and verifies them offline against the pinned platform key', async () => {
    const manifest = await write();
    const verification = await verifyLedgerExport(exportDir, pinned());
    expect(verification).toMatchObject({
      ok: true,
      problems: [],
      manifest,
      key: { name: LEDGER_EXPORT_SIGNING_KEY, version: 1, pinned: true },
    });
    const entriesCsv = await readFile(join(exportDir, 'entries.csv'), 'utf8');
    expect(entriesCsv.split('\r\n')).toHaveLength(1 + 10 + 1);
    expect(await verifyCli(pinnedKeys)).toBe(0);
    expect(log.join('\n')).toMatch(
      /verified: 10 entries, 6 accounts[\s\S]*USD: closing debits USD 1028\.00 = credits USD 1028\.00/,
    );
    expect(log.join('\n')).toMatch(/signed by ledger-export-signing v1 \(a pinned platform key\)/);
    expect(log.join('\n')).not.toMatch(/WARNING/);
  });

  it('refuses to overwrite an export, and to finish one whose pages differ from the signed manifest', async () => {
    await write();
    await expect(write()).rejects.toMatchObject({ code: 'EXPORT_EXISTS' });
    await rm(exportDir, { recursive: true });
    const changed = write(scenario(), edited('3', { postedAmount: '2600' }));
    await expect(changed).rejects.toBeInstanceOf(LedgerExportError);
    await expect(changed).rejects.toMatchObject({ code: 'EXPORT_CHANGED' });
  });

  it('fails the export of edited books, naming the entry, though its manifest is genuinely signed', async () => {
    await write(edited('3', { postedAmount: '2600' }));
    expect(await verifyCli(pinnedKeys)).toBe(1);
    expect(log[0]).toMatch(/FAILED verification: 4 problem/);
    expect(log.join('\n')).toMatch(/entry 3 \(account 1000-cash/);
  });

  it('detects a file altered after signing, and reconciles nothing the manifest did not sign', async () => {
    await write();
    const path = join(exportDir, 'entries.csv');
    await writeFile(path, (await readFile(path, 'utf8')).replace(',2500,', ',2600,'));
    const verification = await verifyLedgerExport(exportDir, pinned());
    expect(verification.ok).toBe(false);
    expect(verification.problems).toEqual([
      'entries.csv: its SHA-256 is not the one the manifest signed (the file was altered or cut short)',
    ]);
  });

  it('says an export is not verified unless its signature is checked against a pinned key, or the embedded one on request', async () => {
    await write();
    expect(await verifyCli()).toBe(1);
    expect(log.join('\n')).toMatch(/NOT verified: signature not checked against a pinned platform key/);
    expect(log.join('\n')).toMatch(/--public-key FILE[\s\S]*--trust-embedded-key/);
    expect(log.join('\n')).not.toMatch(/verified: 10 entries/);
    // A library caller passing no trust (from JavaScript, or a stale one) gets the same answer.
    const unpinned = await verifyLedgerExport(exportDir, {} as VerifyLedgerExportOptions);
    expect(unpinned).toMatchObject({ ok: false, manifest: undefined });
    expect(unpinned.problems).toEqual([
      expect.stringMatching(/^manifest.sig: signature not checked against a pinned platform key/),
    ]);
    await expect(verifyCli(pinnedKeys, '--trust-embedded-key')).rejects.toMatchObject({ code: 'CLI_USAGE' });
  });

  it('refuses a forged signature, and a manifest re-signed by another key unless the embedded key is explicitly trusted', async () => {
    await write();
    const signature = (await readFile(join(exportDir, 'manifest.sig'), 'utf8')).trim();
    const payload = Buffer.from(signature.split(':')[2] as string, 'base64');
    payload[0] = (payload[0] as number) ^ 1;
    await writeFile(join(exportDir, 'manifest.sig'), `local:v1:${payload.toString('base64')}\n`);
    expect((await verifyLedgerExport(exportDir, { trustEmbeddedKey: true })).problems).toEqual([
      'manifest.sig is not a valid signature of manifest.json by the key of the export',
    ]);

    // A forger edits a file, recomputes the digests, re-signs with a key of their own and ships its public key.
    const entries = join(exportDir, 'entries.csv');
    await writeFile(entries, (await readFile(entries, 'utf8')).replace(',2500,', ',2600,'));
    await forge(exportDir);
    expect(await verifyCli(pinnedKeys)).toBe(1);
    expect(log.join('\n')).toMatch(/manifest.sig is not a valid signature of manifest.json by any of the trusted keys/);
    log.length = 0;
    // Trusting the embedded key: the files are what that key signed (the CSV now disagrees with the NDJSON), said loudly.
    expect((await verifyLedgerExport(exportDir, { trustEmbeddedKey: true })).key).toEqual({
      name: LEDGER_EXPORT_SIGNING_KEY,
      version: 1,
      pinned: false,
    });
    expect(await verifyCli('--trust-embedded-key')).toBe(1);
    expect(log[0]).toMatch(/^WARNING: --trust-embedded-key/);
    expect(log.join('\n')).toMatch(/INTEGRITY of the files only, NOT their ORIGIN/);
    expect(log.join('\n')).toMatch(/entries.csv line \d+: not entry 3 of the NDJSON/);
  });

  it('passes a re-signed export with the embedded key trusted only with a warning that it proves integrity, not origin', async () => {
    await write();
    await forge(exportDir);
    expect(await verifyCli('--trust-embedded-key')).toBe(0);
    const output = log.join('\n');
    expect(output).toMatch(/verified: 10 entries/);
    expect(output).toMatch(
      /signed by ledger-export-signing v1, the key shipped with the export: integrity only, NOT origin/,
    );
    expect(log.filter((line) => line.startsWith('WARNING:')).length).toBeGreaterThanOrEqual(6);
  });

  it('matches trusted keys by name and version: another key of the same version does not vouch for a manifest', async () => {
    await write();
    const genuine = await verifyLedgerExport(exportDir, {
      trustedKeys: [{ ...platformKey, name: 'tenant-documents', publicKey: 'AAAA' }, platformKey],
    });
    expect(genuine).toMatchObject({ ok: true, key: { name: LEDGER_EXPORT_SIGNING_KEY, version: 1, pinned: true } });

    const forgerKey = await forge(exportDir);
    const otherName = { ...forgerKey, name: 'ledger-statement-signing' };
    expect((await verifyLedgerExport(exportDir, { trustedKeys: [otherName] })).problems).toEqual([
      'manifest.sig: none of the trusted keys is a ledger-export-signing key',
    ]);
    expect((await verifyLedgerExport(exportDir, { trustedKeys: [otherName, platformKey] })).problems).toEqual([
      'manifest.sig is not a valid signature of manifest.json by any of the trusted keys',
    ]);
    await writeFile(join(exportDir, 'public-key.json'), canonicalJson(otherName));
    expect((await verifyLedgerExport(exportDir, { trustEmbeddedKey: true })).problems).toEqual([
      'public-key.json: not a ledger-export-signing key',
    ]);
  });

  it('stops at a bad signature: the edited files of an unsigned export are not reconciled', async () => {
    await write(edited('3', { postedAmount: '2600' }));
    await writeFile(join(exportDir, 'manifest.sig'), 'local:v1:AAAA\n');
    expect((await verifyLedgerExport(exportDir, pinned())).problems).toEqual([
      'manifest.sig is not a valid signature of manifest.json by any of the trusted keys',
    ]);
  });

  it('counts the transfer passes from the entries in the file, not a count a hostile manifest claims', async () => {
    await write();
    // 10^15 claimed entries would be 2·10^9 passes over the file.
    await forge(exportDir, (manifest) => ({ ...manifest, entries: 1e15 }));
    const started = Date.now();
    const verification = await verifyLedgerExport(exportDir, { trustEmbeddedKey: true });
    expect(verification.problems).toEqual(['the export holds 10 entries, the manifest says 1000000000000000']);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('refuses a line longer than an export line can be, without reading it whole', async () => {
    await write();
    await writeFile(join(exportDir, 'entries.ndjson'), 'x'.repeat(4 * LEDGER_EXPORT_LINE_BYTES_MAX));
    await forge(exportDir);
    const verification = await verifyLedgerExport(exportDir, { trustEmbeddedKey: true });
    expect(verification.ok).toBe(false);
    expect(verification.problems).toContainEqual(
      `entries.ndjson line 1 is longer than ${LEDGER_EXPORT_LINE_BYTES_MAX} bytes: no line of an export is`,
    );
  });

  it('reports a missing file instead of verifying part of an export', async () => {
    await write();
    await rm(join(exportDir, 'balances.csv'));
    expect((await verifyLedgerExport(exportDir, pinned())).problems).toEqual(['the export is missing balances.csv']);
  });

  it('stops paging at a cursor that does not advance, or past the pages the signed rows fill', async () => {
    const data = scenario();
    const ledger = fakeLedger(data, signer);
    let calls = 0;
    const emptyWithCursor: LedgerExportApi = {
      ...ledger,
      entries: async (input) => {
        calls += 1;
        return calls === 3 ? { entries: [], nextCursor: 'z' } : ledger.entries(input);
      },
    };
    await expect(write(data, undefined, emptyWithCursor)).rejects.toMatchObject({
      code: 'EXPORT_UNREADABLE',
      message: expect.stringMatching(/cursor did not advance \(page 3: 0 rows, next cursor z\)/),
    });
    await rm(exportDir, { recursive: true });
    const sameCursor: LedgerExportApi = {
      ...ledger,
      entries: async () => ({ entries: data.entries.slice(0, 1), nextCursor: '3' }),
    };
    await expect(write(data, undefined, sameCursor)).rejects.toMatchObject({
      code: 'EXPORT_UNREADABLE',
      message: expect.stringMatching(/cursor did not advance \(page 2/),
    });
    await rm(exportDir, { recursive: true });
    // One row a page: 10 rows in pages of 3 fill ceil(10/3) + 1 = 5 pages at most.
    const trickle: LedgerExportApi = {
      ...ledger,
      entries: (input) => ledger.entries({ ...input, limit: 1 }),
    };
    await expect(write(data, undefined, trickle)).rejects.toMatchObject({
      code: 'EXPORT_CHANGED',
      message: expect.stringMatching(/a page beyond the 5 that the signed manifest's 10 rows fill/),
    });
  });

  it('refuses a signed manifest of another tenant or period than the one asked for, accepting the same instants in another form', async () => {
    const ledger = fakeLedger(scenario(), signer);
    const ask = (period: { tenantId?: string; from?: string; to?: string }) =>
      writeLedgerExport({ api: ledger, tenantId, from: FROM, to: TO, ...period, outDir: join(dir, randomUUID()) });
    await expect(ask({ tenantId: uuid(77) })).rejects.toMatchObject({
      code: 'EXPORT_UNREADABLE',
      message: expect.stringMatching(
        /^The signed manifest is of tenant 0b7c6f1e-.*not the export asked for \(tenant 00000077-/,
      ),
    });
    await expect(ask({ to: '2025-06-30T00:00:00.000Z' })).rejects.toMatchObject({ code: 'EXPORT_UNREADABLE' });
    await expect(ask({ from: '2025-03-31T20:00:00-04:00', to: '2025-07-01T00:00:00Z' })).resolves.toMatchObject({
      from: FROM,
      to: TO,
    });
  });
});

describe('reading export lines (bounded, as readline would split them)', () => {
  it('splits LF and CRLF lines across read chunks, with an unterminated last line, like readline', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledger-lines-'));
    try {
      const text = Array.from({ length: 5_000 }, (_, n) => `line ${n} ${'é'.repeat(n % 40)}${n % 3 ? '\r\n' : '\n'}`)
        .join('')
        .concat('last');
      await writeFile(join(dir, 'f'), text);
      const bounded: string[] = [];
      for await (const line of boundedLinesOf(join(dir, 'f'), 'f')) bounded.push(line);
      const expected: string[] = [];
      for await (const line of createInterface({ input: Readable.from([text]), crlfDelay: Number.POSITIVE_INFINITY }))
        expected.push(line);
      expect(bounded).toEqual(expected);
      expect(bounded).toHaveLength(5_001);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
    return { api, calls, fetch: fetchStub };
  }
  const signingKey = (version: number, name = LEDGER_EXPORT_SIGNING_KEY) => ({
    name,
    version,
    algorithm: 'Ed25519',
    publicKey: Buffer.alloc(32, version).toString('base64'),
  });

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
  it("fetches the platform signing keys from the tenant's export-signing-keys route, refusing a reply outside the contract", async () => {
    const keys = [signingKey(1), signingKey(2)];
    const gateway = stubGateway(() => ({ status: 200, body: { keys } }));
    const options = { gatewayUrl: 'http://gateway.test', accessToken: 'tok', fetch: gateway.fetch };
    expect(await ledgerExportSigningKeysOverGateway(options, tenantId)).toEqual(keys);
    expect(gateway.calls.map((c) => [c.method, c.url.pathname, c.authorization])).toEqual([
      ['GET', `/v1/tenants/${tenantId}/ledger/export-signing-keys`, 'Bearer tok'],
    ]);
    const garbled = stubGateway(() => ({ status: 200, body: { keys: [{ ...signingKey(1), algorithm: 'RSA' }] } }));
    await expect(
      ledgerExportSigningKeysOverGateway({ ...options, fetch: garbled.fetch }, tenantId),
    ).rejects.toMatchObject({ code: 'EXPORT_REFUSED', message: expect.stringMatching(/outside its contract/) });
    const flood = stubGateway(() => ({
      status: 200,
      body: { keys: Array.from({ length: 101 }, (_, n) => signingKey(n + 1)) },
    }));
    await expect(ledgerExportSigningKeysOverGateway({ ...options, fetch: flood.fetch }, tenantId)).rejects.toThrow(
      /listed more than 100 keys/,
    );
  });

  it('`strongroom ledger export-keys` pins the export signing keys, never overwriting a pinned-key file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledger-export-keys-'));
    const saved = process.env.STRONGROOM_ACCESS_TOKEN;
    process.env.STRONGROOM_ACCESS_TOKEN = 'tok';
    const gateway = stubGateway(() => ({
      status: 200,
      body: { keys: [signingKey(1), signingKey(1, 'tenant-documents'), signingKey(2)] },
    }));
    const fetchSpy = jest.spyOn(globalThis, 'fetch').mockImplementation(gateway.fetch);
    try {
      const out = join(dir, 'platform-keys.json');
      const log: string[] = [];
      const keysOf = (values: Record<string, string>) =>
        ledgerExportKeysCommand.run({ tenant: tenantId, gateway: 'http://gateway.test', out, ...values }, (line) =>
          log.push(line),
        );
      expect(await keysOf({})).toBe(0);
      expect(JSON.parse(await readFile(out, 'utf8'))).toEqual([signingKey(1), signingKey(2)]);
      const fingerprint = createHash('sha256').update(Buffer.alloc(32, 2)).digest('hex');
      expect(log.join('\n')).toMatch(
        new RegExp(`2 key version\\(s\\) of ledger-export-signing written[\\s\\S]*v2 Ed25519 sha256:${fingerprint}`),
      );
      await expect(keysOf({})).rejects.toMatchObject({
        code: 'CLI_USAGE',
        message: expect.stringMatching(/exists already/),
      });
      expect(gateway.calls[0]?.url.pathname).toBe(`/v1/tenants/${tenantId}/ledger/export-signing-keys`);
    } finally {
      fetchSpy.mockRestore();
      if (saved === undefined) delete process.env.STRONGROOM_ACCESS_TOKEN;
      else process.env.STRONGROOM_ACCESS_TOKEN = saved;
      await rm(dir, { recursive: true, force: true });
    }
  });
});
