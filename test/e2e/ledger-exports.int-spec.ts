import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  ledgerExportApiOverBus,
  ledgerExportApiOverGateway,
  type RunningStack,
  writeLedgerExport,
} from '@strongroom/cli';
import {
  canonicalJson,
  createLedgerAccount,
  createTransfer,
  createTransfers,
  LEDGER_EXPORT_DIGESTED_FILES,
  LEDGER_EXPORT_FILES,
  type LedgerAccountType,
  type LedgerExportManifest,
  ledgerExportCreated,
  OPERATOR_IDENTITY,
  type PayloadOf,
  type TransferCommandInput,
} from '@strongroom/contracts';
import { freePort } from '@strongroom/testing';
import { Client } from 'pg';
import { readStream } from './support/event-stream';
import { type BusCall, type LedgerBus, ledgerBusOf } from './support/ledger-bus';
import { clientCredentialsToken, startTestStack, type TestStack } from './test-stack';

const CLI = resolve(__dirname, '../../packages/cli/dist/main.js');
const run = promisify(execFile);

/** `strongroom <args>` as an auditor runs it (the built CLI, with `env` added to ours): its exit code and what it printed. */
async function strongroom(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/**
 * Seed 001: "quarterly audit exports are one click and reconcile to the cent". The whole stack:
 * transfers over the bus with a client's token, a signed export assembled from the paged calls,
 * verified offline by `strongroom ledger verify-export`; then a superuser rewrites an entry with
 * the append-only trigger switched off, and the next export's verification names it.
 */
describe('ledger audit exports', () => {
  let testStack: TestStack;
  let stack: RunningStack;
  let ledger: LedgerBus;
  let superuser: Client;
  let dir: string;

  const call: BusCall = (contract, input) => ledger.call(contract, input);
  const suffix = randomUUID().slice(0, 8);
  const open = async (code: string, type: LedgerAccountType, currency = 'USD') =>
    (
      await call(createLedgerAccount, {
        tenantId: stack.demo.tenantId,
        code: `${code}-${suffix}`,
        name: code,
        currency,
        type,
      })
    ).id;
  const transfer = (command: TransferCommandInput) =>
    call(createTransfer, { tenantId: stack.demo.tenantId, transfer: command });
  const move = (
    debit: string,
    credit: string,
    amount: string,
    id = randomUUID(),
    currency = 'USD',
  ): TransferCommandInput => ({
    type: 'immediate',
    id,
    postings: [
      { accountId: debit, direction: 'debit', amount, currency },
      { accountId: credit, direction: 'credit', amount, currency },
    ],
  });

  let pinnedKeysFile: string | undefined;
  /** The platform's export signing keys, pinned once with `strongroom ledger export-keys`, as an auditor would. */
  async function pinnedKeys(): Promise<string> {
    if (pinnedKeysFile !== undefined) return pinnedKeysFile;
    const out = join(dir, 'platform-keys.json');
    const accessToken = await clientCredentialsToken(stack.gatewayUrl, stack.demo);
    const pinned = await strongroom(
      ['ledger', 'export-keys', '--tenant', stack.demo.tenantId, '--gateway', stack.gatewayUrl, '--out', out],
      { STRONGROOM_ACCESS_TOKEN: accessToken },
    );
    expect(pinned).toMatchObject({ code: 0 });
    expect(pinned.output).toMatch(/key version\(s\) of ledger-export-signing written to .*platform-keys\.json/);
    pinnedKeysFile = out;
    return out;
  }

  /** An instant (ms) after every entry written so far and before any written next, by the ledger database's clock. */
  async function boundary(): Promise<string> {
    const { rows } = await superuser.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    await new Promise((resolveWait) => setTimeout(resolveWait, 5));
    return new Date((rows[0] as { now: Date }).now.getTime() + 1).toISOString();
  }

  beforeAll(async () => {
    testStack = await startTestStack();
    stack = testStack.stack;
    ledger = await ledgerBusOf(testStack, { name: 'ledger-exports-test', timeoutMs: 10_000, maxTimeoutMs: 30_000 });
    superuser = new Client({ connectionString: await testStack.adminUrlOf('ledger') });
    await superuser.connect();
    dir = await mkdtemp(join(tmpdir(), 'ledger-exports-e2e-'));
  }, 120_000);

  afterAll(async () => {
    await superuser?.end();
    await ledger?.close();
    await testStack?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('exports a period through the gateway with `strongroom ledger export`, byte for byte the export assembled over the bus', async () => {
    const tenantId = stack.demo.tenantId;
    // Its own accounts, in EUR: the USD trial balance of the other period stays its own.
    const cash = await open('1100-cash-eur', 'asset', 'EUR');
    const wallets = await open('2100-wallets-eur', 'liability', 'EUR');
    const fees = await open('4100-fees-eur', 'income', 'EUR');
    await transfer(move(cash, wallets, '50000', randomUUID(), 'EUR'));
    const from = await boundary();
    // More entries than a page holds (1,000): the CLI's pages cross accounts through the gateway's cursors.
    await call(createTransfers, {
      tenantId,
      transfers: Array.from({ length: 600 }, (_, index) =>
        index % 100 === 0
          ? move(wallets, fees, '5', randomUUID(), 'EUR')
          : move(cash, wallets, '3', randomUUID(), 'EUR'),
      ),
    });
    await transfer(move(wallets, fees, '15', randomUUID(), 'EUR'));
    const to = await boundary();
    await transfer(move(cash, wallets, '1', randomUUID(), 'EUR'));

    const accessToken = await clientCredentialsToken(stack.gatewayUrl, stack.demo);
    const throughGateway = join(dir, 'through-gateway');
    const exported = await strongroom(
      ['ledger', 'export', '--tenant', tenantId, '--from', from, '--to', to, '--out', throughGateway],
      { STRONGROOM_ACCESS_TOKEN: accessToken, STRONGROOM_GATEWAY_URL: stack.gatewayUrl },
    );
    expect(exported).toMatchObject({ code: 0 });
    expect(exported.output).toMatch(new RegExp(`of ${from} to ${to} written to ${throughGateway}: 1202 entries`));
    // The key the export shipped (the create response's) is one the platform publishes: pinned, it verifies.
    const keys = await pinnedKeys();
    const shipped = JSON.parse(await readFile(join(throughGateway, 'public-key.json'), 'utf8'));
    expect(JSON.parse(await readFile(keys, 'utf8'))).toContainEqual(shipped);
    const verified = await strongroom(['ledger', 'verify-export', '--dir', throughGateway, '--public-key', keys]);
    expect(verified).toMatchObject({ code: 0 });
    expect(verified.output).toMatch(/verified: 1202 entries/);
    expect(verified.output).toMatch(/signed by ledger-export-signing v\d+ \(a pinned platform key\)/);
    expect(verified.output).toMatch(
      /EUR: closing debits EUR 518\.27 = credits EUR 518\.27; period debits EUR 18\.27 = credits EUR 18\.27/,
    );

    // The same period assembled over the bus, and through the gateway in pages of 97 rows.
    const overBus = join(dir, 'over-bus');
    await writeLedgerExport({
      api: ledgerExportApiOverBus(ledger.bus, ledger.credential),
      tenantId,
      from,
      to,
      outDir: overBus,
    });
    const paged = join(dir, 'through-gateway-paged');
    const gateway = ledgerExportApiOverGateway({ gatewayUrl: stack.gatewayUrl, accessToken });
    await writeLedgerExport({ api: gateway, tenantId, from, to, outDir: paged, pageLimit: 97 });
    const manifestOf = async (exportDir: string) =>
      JSON.parse(await readFile(join(exportDir, 'manifest.json'), 'utf8')) as LedgerExportManifest;
    const viaBus = await manifestOf(overBus);
    const viaGateway = await manifestOf(throughGateway);
    const viaPages = await manifestOf(paged);
    // Each export is its own (id, time of creation); what it says of the period is the same.
    const period = ({ exportId: _id, createdAt: _at, ...rest }: LedgerExportManifest) => rest;
    expect(period(viaGateway)).toEqual(period(viaBus));
    expect(period(viaPages)).toEqual(period(viaBus));
    expect(viaGateway.from).toBe(from);
    for (const name of [...LEDGER_EXPORT_DIGESTED_FILES, LEDGER_EXPORT_FILES.publicKey]) {
      const expected = await readFile(join(overBus, name));
      expect((await readFile(join(throughGateway, name))).equals(expected)).toBe(true);
      expect((await readFile(join(paged, name))).equals(expected)).toBe(true);
    }
  });

  it('refuses a period that has not ended as a 400 problem through the gateway; the CLI says what was wrong', async () => {
    const tenantId = stack.demo.tenantId;
    const accessToken = await clientCredentialsToken(stack.gatewayUrl, stack.demo);
    const from = new Date(Date.now() - 86_400_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const exportsUrl = `${stack.gatewayUrl}/v1/tenants/${tenantId}/ledger/exports`;
    const headers = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' };
    const answers = [
      await fetch(exportsUrl, { method: 'POST', headers, body: JSON.stringify({ from, to }) }),
      await fetch(`${exportsUrl}/entries?${new URLSearchParams({ from, to })}`, { headers }),
      await fetch(`${exportsUrl}/balances?${new URLSearchParams({ from, to, limit: '10' })}`, { headers }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await answer.json()).toMatchObject({
        status: 400,
        code: 'VALIDATION',
        detail: 'The period has not ended yet: `to` is in the future',
        to,
      });
    }

    const exportTo = (args: string[], gatewayUrl = stack.gatewayUrl) =>
      strongroom(
        ['ledger', 'export', '--tenant', tenantId, ...args, '--out', join(dir, 'refused'), '--gateway', gatewayUrl],
        {
          STRONGROOM_ACCESS_TOKEN: accessToken,
        },
      );
    const notEnded = await exportTo(['--from', from, '--to', to]);
    expect(notEnded.code).toBe(1);
    expect(notEnded.output).toMatch(/\[EXPORT_REFUSED\] .*answered 400 VALIDATION: The period has not ended yet/);
    // The CLI says which bound is wrong, as the problem's issues name it.
    const dateOnly = await exportTo(['--from', '2025-01-01T00:00:00Z', '--to', '2025-04-01']);
    expect(dateOnly.code).toBe(1);
    expect(dateOnly.output).toMatch(
      /answered 400 VALIDATION: Invalid ledger.v1.exports.create request \(to: Invalid ISO datetime\)/,
    );
    const reversed = await exportTo(['--from', '2025-04-01T00:00:00Z', '--to', '2025-01-01T00:00:00Z']);
    expect(reversed.output).toMatch(/\(to: `to` must be later than `from`\)/);
    const noGateway = `http://127.0.0.1:${await freePort()}`;
    const unreachable = await exportTo(['--from', '2025-01-01T00:00:00Z', '--to', '2025-04-01T00:00:00Z'], noGateway);
    expect(unreachable.code).toBe(1);
    expect(unreachable.output).toMatch(
      new RegExp(`\\[EXPORT_UNREACHABLE\\] could not reach the gateway at ${noGateway} \\(ECONNREFUSED\\)`),
    );
  });

  it('exports a period that verifies, then catches a superuser edit and a forged signature', async () => {
    const tenantId = stack.demo.tenantId;
    const cash = await open('1000-cash', 'asset');
    const wallets = await open('2000-wallets', 'liability');
    const fees = await open('4000-fees', 'income');
    await transfer(move(cash, wallets, '100000'));
    const from = await boundary();

    const edited = randomUUID();
    const reversed = randomUUID();
    const pending = randomUUID();
    await transfer(move(cash, wallets, '2500', edited));
    await call(createTransfers, {
      tenantId,
      transfers: [
        move(cash, wallets, '700', reversed),
        {
          type: 'pending',
          id: pending,
          postings: [
            { accountId: wallets, direction: 'debit', amount: '300', currency: 'USD' },
            { accountId: fees, direction: 'credit', amount: '300', currency: 'USD' },
          ],
        },
      ],
    });
    await transfer({
      type: 'post_pending',
      id: randomUUID(),
      pendingId: pending,
      postings: [
        { accountId: wallets, direction: 'debit', amount: '200', currency: 'USD' },
        { accountId: fees, direction: 'credit', amount: '200', currency: 'USD' },
      ],
    });
    await transfer({ type: 'reversal', id: randomUUID(), reversesId: reversed });
    const to = await boundary();
    await transfer(move(cash, wallets, '1'));

    const api = ledgerExportApiOverBus(ledger.bus, ledger.credential);
    const good = join(dir, 'good');
    const manifest = await writeLedgerExport({ api, tenantId, from, to, outDir: good, pageLimit: 3 });
    expect(manifest).toMatchObject({ tenantId, environment: 'sandbox', from, to, entries: 10 });
    const usd = manifest.trialBalance.find((totals) => totals.currency === 'USD');
    expect(usd).toMatchObject({
      openingDebitsPosted: '100000',
      periodDebits: String(2500 + 700 + 200 + 700),
      periodCredits: String(2500 + 700 + 200 + 700),
      closingDebitsPosted: String(100000 + 2500 + 700 + 200 + 700),
    });
    const keys = await pinnedKeys();
    const verified = await strongroom(['ledger', 'verify-export', '--dir', good, '--public-key', keys]);
    expect(verified).toMatchObject({ code: 0 });
    expect(verified.output).toMatch(/verified: 10 entries/);
    expect(verified.output).toMatch(/USD: closing debits USD 1041\.00 = credits USD 1041\.00/);

    // The export is in the audit trail: who exported which period, and the digest of what was signed.
    const events = await readStream({
      natsUrl: stack.natsUrl,
      stateDir: testStack.stateDir,
      identity: OPERATOR_IDENTITY,
      stream: 'EVT_LEDGER',
      subject: ledgerExportCreated.subject,
      done: (read) => read.some((event) => (event.payload as { exportId?: string }).exportId === manifest.exportId),
      timeoutMs: 30_000,
    });
    const recorded = events.find((event) => (event.payload as { exportId?: string }).exportId === manifest.exportId);
    expect(recorded?.payload as PayloadOf<typeof ledgerExportCreated>).toMatchObject({
      tenantId,
      from,
      to,
      entries: 10,
    });

    // A superuser rewrites the amount of one entry, the append-only trigger switched off.
    const { rows } = await superuser.query<{ seq: string }>(
      "SELECT seq FROM ledger_entries WHERE transfer_id = $1 AND direction = 'debit'",
      [edited],
    );
    const seq = rows[0]?.seq as string;
    await superuser.query('BEGIN');
    await superuser.query('SET LOCAL session_replication_role = replica');
    await superuser.query('UPDATE ledger_entries SET posted_amount = posted_amount + 100 WHERE seq = $1', [seq]);
    await superuser.query('COMMIT');
    // The ledger cross-checks its books before it signs: the edit is refused, named, and nothing is written.
    // (Books edited after signing are caught offline by verify-export: exports-verification.spec.ts.)
    const tampered = join(dir, 'after-edit');
    const refusal = await writeLedgerExport({ api, tenantId, from, to, outDir: tampered }).catch(
      (error: unknown) => error as { code?: string; details?: { reason?: string } },
    );
    expect(refusal).toMatchObject({ code: 'CONFLICT', details: { reason: 'LEDGER_INCONSISTENT' } });
    expect(JSON.stringify((refusal as { details?: unknown }).details)).toMatch(new RegExp(`${seq}|${edited}`));
    await expect(readFile(join(tampered, 'manifest.json'))).rejects.toMatchObject({ code: 'ENOENT' });

    // A flipped signature, and a manifest re-signed by another key once the platform's is pinned.
    const forged = join(dir, 'forged');
    await cp(good, forged, { recursive: true });
    const signature = (await readFile(join(forged, 'manifest.sig'), 'utf8')).trim();
    const [prefix, version, payload] = signature.split(':') as [string, string, string];
    const bytes = Buffer.from(payload, 'base64');
    bytes[5] = (bytes[5] as number) ^ 0x40;
    await writeFile(join(forged, 'manifest.sig'), `${prefix}:${version}:${bytes.toString('base64')}\n`);
    const refused = await strongroom(['ledger', 'verify-export', '--dir', forged, '--public-key', keys]);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/manifest.sig is not a valid signature of manifest.json/);

    const forger = generateKeyPairSync('ed25519');
    const resigned = sign(null, await readFile(join(forged, 'manifest.json')), forger.privateKey).toString('base64');
    await writeFile(join(forged, 'manifest.sig'), `${prefix}:${version}:${resigned}\n`);
    const raw = forger.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    const shipped = JSON.parse(await readFile(join(good, 'public-key.json'), 'utf8'));
    await writeFile(join(forged, 'public-key.json'), canonicalJson({ ...shipped, publicKey: raw }));
    const pinned = await strongroom(['ledger', 'verify-export', '--dir', forged, '--public-key', keys]);
    expect(pinned.code).toBe(1);
    expect(pinned.output).toMatch(/not a valid signature of manifest.json by any of the trusted keys/);
    // Without a pinned key nothing is verified; trusting the forger's shipped key passes, said loudly to prove integrity only.
    const unpinned = await strongroom(['ledger', 'verify-export', '--dir', forged]);
    expect(unpinned.code).toBe(1);
    expect(unpinned.output).toMatch(/NOT verified: signature not checked against a pinned platform key/);
    const embedded = await strongroom(['ledger', 'verify-export', '--dir', forged, '--trust-embedded-key']);
    expect(embedded.code).toBe(0);
    expect(embedded.output).toMatch(/^WARNING: --trust-embedded-key/);
    expect(embedded.output).toMatch(/the key shipped with the export: integrity only, NOT origin/);
  });
});
