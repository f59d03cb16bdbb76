import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canonicalJson,
  createLedgerExport,
  LEDGER_EXPORT_BALANCE_COLUMNS,
  LEDGER_EXPORT_ENTRY_COLUMNS,
  LEDGER_EXPORT_SIGNING_KEY,
  LEDGER_EXPORT_TRIAL_BALANCE_COLUMNS,
  type LedgerExportBalance,
  type LedgerExportEntry,
  ledgerExportBalanceCsvLine,
  ledgerExportCsvHeader,
  ledgerExportEntryCsvLine,
  ledgerExportEntryJsonLine,
  ledgerExportEntrySchema,
  ledgerExportTrialBalanceCsvLine,
  listLedgerExportBalances,
  listLedgerExportEntries,
} from '@strongroom/contracts';
import { LocalSecretsProvider, verifyWithPublicKeys } from '@strongroom/platform';
import pino from 'pino';
import { ExportManifestBuilder } from '../src/exports/export-manifest';
import { ExportSigner } from '../src/exports/export-signing';

const tenantId = '0b7c6f1e-2f0a-4d8e-9a51-3c2d1e0f9a8b';
const cash = '11111111-1111-4111-8111-111111111111';
const wallets = '22222222-2222-4222-8222-222222222222';
const transferId = '33333333-3333-4333-8333-333333333333';

const zero = { debitsPosted: '0', creditsPosted: '0', debitsPending: '0', creditsPending: '0' };
const cashAccount: LedgerExportBalance = {
  accountId: cash,
  code: '1000-cash',
  type: 'asset',
  currency: 'USD',
  currencyExponent: 2,
  opening: { ...zero, debitsPosted: '100000' },
  closing: { ...zero, debitsPosted: '102500', creditsPosted: '300' },
};
const walletsAccount: LedgerExportBalance = {
  accountId: wallets,
  code: '2000-wallets',
  type: 'liability',
  currency: 'USD',
  currencyExponent: 2,
  opening: { ...zero, creditsPosted: '100000' },
  closing: { ...zero, debitsPosted: '300', creditsPosted: '102500', creditsPending: '40' },
};
const entry: LedgerExportEntry = {
  seq: '42',
  occurredAt: '2025-04-01T00:00:00.000Z',
  transferId,
  accountId: cash,
  accountCode: '1000-cash',
  currency: 'USD',
  direction: 'debit',
  postedAmount: '2500',
  pendingChange: '-40',
  debitsPostedAfter: '102500',
  creditsPostedAfter: '0',
  debitsPendingAfter: '0',
  creditsPendingAfter: '0',
};

describe('the ledger export byte format (what the ledger hashes and a verifier recomputes)', () => {
  it('writes an entry as one RFC 4180 line, fields in the header order, CRLF-terminated', () => {
    expect(ledgerExportCsvHeader(LEDGER_EXPORT_ENTRY_COLUMNS)).toBe(
      'seq,occurred_at,transfer_id,account_id,account_code,currency,direction,posted_amount,pending_change,' +
        'debits_posted_after,credits_posted_after,debits_pending_after,credits_pending_after\r\n',
    );
    expect(ledgerExportEntryCsvLine(entry)).toBe(
      `42,2025-04-01T00:00:00.000Z,${transferId},${cash},1000-cash,USD,debit,2500,-40,102500,0,0,0\r\n`,
    );
  });

  it('writes an entry as one line of canonical JSON (keys sorted, no spaces), LF-terminated', () => {
    const line = ledgerExportEntryJsonLine(entry);
    expect(line.endsWith('}\n')).toBe(true);
    expect(line).toBe(`${canonicalJson(entry)}\n`);
    expect(line.startsWith('{"accountCode":"1000-cash","accountId":')).toBe(true);
    expect(JSON.parse(line)).toEqual(entry);
    // A field added to the schema and not to the renderer would vanish from the export silently.
    expect(Object.keys(JSON.parse(line))).toEqual(Object.keys(ledgerExportEntrySchema.shape).sort());
    expect(LEDGER_EXPORT_ENTRY_COLUMNS).toHaveLength(Object.keys(ledgerExportEntrySchema.shape).length);
  });

  it('writes opening and closing balances of an account, four sides each', () => {
    expect(LEDGER_EXPORT_BALANCE_COLUMNS).toHaveLength(13);
    expect(ledgerExportBalanceCsvLine(walletsAccount)).toBe(
      `${wallets},2000-wallets,liability,USD,2,0,100000,0,0,300,102500,0,40\r\n`,
    );
  });

  it('puts a trial balance line on the side the closing balance falls, the other side 0', () => {
    expect(LEDGER_EXPORT_TRIAL_BALANCE_COLUMNS[6]).toBe('debit_balance');
    expect(ledgerExportTrialBalanceCsvLine(cashAccount)).toBe(`${cash},1000-cash,asset,USD,102500,300,102200,0\r\n`);
    expect(ledgerExportTrialBalanceCsvLine(walletsAccount)).toBe(
      `${wallets},2000-wallets,liability,USD,300,102500,0,102200\r\n`,
    );
  });

  it('refuses to render a field CSV would have to quote, rather than write a line a verifier would read differently', () => {
    expect(() => ledgerExportEntryCsvLine({ ...entry, accountCode: 'cash,"x"' })).toThrow(/quote/);
    expect(() => ledgerExportEntryCsvLine({ ...entry, accountCode: 'cash\r\nx' })).toThrow(/quote/);
  });

  it('writes canonical JSON as RFC 8785 does for strings, integers and nesting, and refuses what it cannot hold', () => {
    expect(canonicalJson({ b: [2, { d: 'é"', c: null }], a: true, skipped: undefined })).toBe(
      '{"a":true,"b":[2,{"c":null,"d":"é\\""}]}',
    );
    expect(() => canonicalJson({ amount: 10.5 })).toThrow(/integers/);
    expect(() => canonicalJson({ amount: 10n })).toThrow(/bigint/);
  });
});

describe('the period of an export request', () => {
  const request = createLedgerExport.request;

  it('normalizes any ISO 8601 instant to UTC with milliseconds', () => {
    expect(request.parse({ tenantId, from: '2025-04-01T02:00:00+02:00', to: '2025-07-01T00:00:00Z' })).toEqual({
      tenantId,
      from: '2025-04-01T00:00:00.000Z',
      to: '2025-07-01T00:00:00.000Z',
    });
  });

  it('refuses a period that ends before it starts, or is empty', () => {
    expect(request.safeParse({ tenantId, from: '2025-07-01T00:00:00Z', to: '2025-04-01T00:00:00Z' }).success).toBe(
      false,
    );
    expect(request.safeParse({ tenantId, from: '2025-04-01T00:00:00Z', to: '2025-04-01T00:00:00Z' }).success).toBe(
      false,
    );
  });

  it('refuses a period longer than a leap year', () => {
    expect(request.safeParse({ tenantId, from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z' }).success).toBe(
      true,
    );
    expect(request.safeParse({ tenantId, from: '2024-01-01T00:00:00Z', to: '2025-01-02T00:00:00Z' }).success).toBe(
      false,
    );
  });

  it('refuses a bound an offset carries out of the years 0001–9999, which Postgres cannot store', () => {
    const ok = (from: string, to: string) => request.safeParse({ tenantId, from, to }).success;
    expect(ok('0001-01-01T00:00:00Z', '0001-02-01T00:00:00Z')).toBe(true);
    expect(ok('9999-12-01T00:00:00Z', '9999-12-31T23:59:59.999Z')).toBe(true);
    expect(ok('0000-12-31T00:00:00Z', '0001-01-02T00:00:00Z')).toBe(false);
    expect(ok('0001-01-01T00:00:00+01:00', '0001-01-02T00:00:00Z')).toBe(false);
    expect(ok('9999-12-31T00:00:00Z', '9999-12-31T23:00:00-05:00')).toBe(false);
  });

  it('bounds a page at 1,000 rows (about 500 KB, well under the bus payload limit)', () => {
    const page = { tenantId, from: '2025-04-01T00:00:00Z', to: '2025-07-01T00:00:00Z' };
    expect(listLedgerExportEntries.request.parse(page).limit).toBe(1_000);
    expect(listLedgerExportEntries.request.safeParse({ ...page, limit: 1_001 }).success).toBe(false);
    expect(listLedgerExportEntries.request.safeParse({ ...page, cursor: '0' }).success).toBe(false);
  });

  it('takes an entries cursor only within a Postgres bigint, and a balances cursor only as an account code', () => {
    const page = { tenantId, from: '2025-04-01T00:00:00Z', to: '2025-07-01T00:00:00Z' };
    const entries = (cursor: string) => listLedgerExportEntries.request.safeParse({ ...page, cursor }).success;
    expect(entries('9223372036854775807')).toBe(true);
    expect(entries('9223372036854775808')).toBe(false);
    expect(entries('9999999999999999999')).toBe(false);
    const balances = (cursor: string) => listLedgerExportBalances.request.safeParse({ ...page, cursor }).success;
    expect(balances('1000-cash')).toBe(true);
    expect(balances('x'.repeat(65))).toBe(false);
    expect(balances("1000'; --")).toBe(false);
  });

  it('keeps the largest page of the largest entries under the 1 MiB a bus message may carry', () => {
    const widest: LedgerExportEntry = {
      ...entry,
      seq: '9223372036854775807',
      accountCode: 'x'.repeat(64),
      postedAmount: '9223372036854775807',
      pendingChange: '-9223372036854775807',
      debitsPostedAfter: '9223372036854775807',
      creditsPostedAfter: '9223372036854775807',
      debitsPendingAfter: '9223372036854775807',
      creditsPendingAfter: '9223372036854775807',
    };
    const page = JSON.stringify({ entries: Array.from({ length: 1_000 }, () => widest), nextCursor: widest.seq });
    expect(Buffer.byteLength(page)).toBeLessThan(1024 * 1024);
  });
});

describe('ExportManifestBuilder', () => {
  const identity = {
    exportId: '44444444-4444-4444-8444-444444444444',
    tenantId,
    environment: 'production' as const,
    from: '2025-04-01T00:00:00.000Z',
    to: '2025-07-01T00:00:00.000Z',
    createdAt: '2025-07-02T00:00:00.000Z',
  };
  const walletsEntry: LedgerExportEntry = {
    ...entry,
    seq: '43',
    accountId: wallets,
    accountCode: '2000-wallets',
    direction: 'credit',
    pendingChange: '0',
    debitsPostedAfter: '0',
    creditsPostedAfter: '102500',
  };
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  function built() {
    const builder = new ExportManifestBuilder();
    builder.addAccount(cashAccount);
    builder.addEntry(entry);
    builder.addAccount(walletsAccount);
    builder.addEntry(walletsEntry);
    return builder.manifest(identity);
  }

  it('digests each file as the header and the rendered lines, in the order they were added', () => {
    const manifest = built();
    const entriesCsv = [LEDGER_EXPORT_ENTRY_COLUMNS]
      .map(ledgerExportCsvHeader)
      .concat([entry, walletsEntry].map(ledgerExportEntryCsvLine))
      .join('');
    const entriesNdjson = [entry, walletsEntry].map(ledgerExportEntryJsonLine).join('');
    const balancesCsv =
      ledgerExportCsvHeader(LEDGER_EXPORT_BALANCE_COLUMNS) +
      ledgerExportBalanceCsvLine(cashAccount) +
      ledgerExportBalanceCsvLine(walletsAccount);
    const trialCsv =
      ledgerExportCsvHeader(LEDGER_EXPORT_TRIAL_BALANCE_COLUMNS) +
      ledgerExportTrialBalanceCsvLine(cashAccount) +
      ledgerExportTrialBalanceCsvLine(walletsAccount);
    expect(manifest.files).toEqual({
      'entries.csv': { sha256: sha256(entriesCsv), bytes: Buffer.byteLength(entriesCsv) },
      'entries.ndjson': { sha256: sha256(entriesNdjson), bytes: Buffer.byteLength(entriesNdjson) },
      'balances.csv': { sha256: sha256(balancesCsv), bytes: Buffer.byteLength(balancesCsv) },
      'trial-balance.csv': { sha256: sha256(trialCsv), bytes: Buffer.byteLength(trialCsv) },
    });
  });

  it('sums the trial balance per currency: opening and closing posted balances, and the period movements', () => {
    const manifest = built();
    expect(manifest).toMatchObject({ ...identity, format: 'strongroom.ledger-export.v1', accounts: 2, entries: 2 });
    expect(manifest.trialBalance).toEqual([
      {
        currency: 'USD',
        currencyExponent: 2,
        accounts: 2,
        openingDebitsPosted: '100000',
        openingCreditsPosted: '100000',
        periodDebits: '2500',
        periodCredits: '2500',
        closingDebitsPosted: '102800',
        closingCreditsPosted: '102800',
      },
    ]);
  });

  it('describes an empty period: headers only, no currency', () => {
    const manifest = new ExportManifestBuilder().manifest(identity);
    expect(manifest.entries).toBe(0);
    expect(manifest.trialBalance).toEqual([]);
    expect(manifest.files['entries.ndjson']).toEqual({ sha256: sha256(''), bytes: 0 });
  });
});

describe('ExportSigner', () => {
  let dir: string;
  let secrets: LocalSecretsProvider;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ledger-export-signer-'));
    secrets = new LocalSecretsProvider({ stateDir: dir, logger: pino({ level: 'silent' }), nodeEnv: 'test' });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const manifest = () =>
    new ExportManifestBuilder().manifest({
      exportId: '44444444-4444-4444-8444-444444444444',
      tenantId,
      environment: 'sandbox',
      from: '2025-04-01T00:00:00.000Z',
      to: '2025-07-01T00:00:00.000Z',
      createdAt: '2025-07-02T00:00:00.000Z',
    });

  it('creates the Ed25519 key on first use and signs the canonical manifest bytes, verifiable offline', async () => {
    const signed = await new ExportSigner({ secrets }).sign(manifest());
    expect(signed.bytes.toString('utf8')).toBe(canonicalJson(manifest()));
    expect(signed.signingKey).toMatchObject({ name: LEDGER_EXPORT_SIGNING_KEY, version: 1, algorithm: 'Ed25519' });
    const keys = [{ ...signed.signingKey, createdTime: '' }];
    expect(verifyWithPublicKeys(keys, signed.bytes, signed.signature)).toBe(true);
    expect(verifyWithPublicKeys(keys, Buffer.from(`${signed.bytes} `), signed.signature)).toBe(false);
  });

  it('names the key version that signed, after a rotation', async () => {
    const signer = new ExportSigner({ secrets });
    await signer.sign(manifest());
    await secrets.rotateKey(LEDGER_EXPORT_SIGNING_KEY);
    const signed = await signer.sign(manifest());
    expect(signed.signingKey.version).toBe(2);
    expect(signed.signature.startsWith('local:v2:')).toBe(true);
  });

  it('lists every version of the signing key, oldest first, each able to check what it signed', async () => {
    const signer = new ExportSigner({ secrets });
    const first = await signer.sign(manifest());
    await secrets.rotateKey(LEDGER_EXPORT_SIGNING_KEY);
    const second = await signer.sign(manifest());
    const keys = await signer.publicKeys();
    expect(keys).toEqual([first.signingKey, second.signingKey]);
    expect(keys.map((key) => key.version)).toEqual([1, 2]);
    const pinned = keys.map((key) => ({ ...key, createdTime: '' }));
    expect(verifyWithPublicKeys(pinned, first.bytes, first.signature)).toBe(true);
    expect(verifyWithPublicKeys(pinned, second.bytes, second.signature)).toBe(true);
  });

  it('refuses to sign with a key of the name that is not Ed25519', async () => {
    await secrets.ensureKey(LEDGER_EXPORT_SIGNING_KEY, 'aes256-gcm96');
    await expect(new ExportSigner({ secrets }).sign(manifest())).rejects.toThrow(/not an Ed25519 key/);
  });
});
