import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ledgerExportApiOverBus, type RunningStack, writeLedgerExport } from '@strongroom/cli';
import {
  canonicalJson,
  createLedgerAccount,
  createTransfer,
  createTransfers,
  type LedgerAccountType,
  ledgerExportCreated,
  type PayloadOf,
  type RequestContract,
  type RequestInputOf,
  type ResponseOf,
  type TransferCommandInput,
} from '@strongroom/contracts';
import type { BusClient } from '@strongroom/platform';
import type { NatsConnection } from 'nats';
import { Client } from 'pg';
import { readStream } from './support/event-stream';
import { clientCredentialsToken, startTestStack, type TestStack } from './test-stack';

const CLI = resolve(__dirname, '../../packages/cli/dist/main.js');
const run = promisify(execFile);

/** `strongroom <args>` as an auditor runs it (the built CLI): its exit code and what it printed. */
async function strongroom(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args]);
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
  let connection: NatsConnection;
  let bus: BusClient;
  let credential: string;
  let superuser: Client;
  let dir: string;

  const call = <C extends RequestContract>(contract: C, input: RequestInputOf<C>): Promise<ResponseOf<C>> =>
    bus.request(contract, input, { credential });
  const suffix = randomUUID().slice(0, 8);
  const open = async (code: string, type: LedgerAccountType) =>
    (
      await call(createLedgerAccount, {
        tenantId: stack.demo.tenantId,
        code: `${code}-${suffix}`,
        name: code,
        currency: 'USD',
        type,
      })
    ).id;
  const transfer = (command: TransferCommandInput) =>
    call(createTransfer, { tenantId: stack.demo.tenantId, transfer: command });
  const move = (debit: string, credit: string, amount: string, id = randomUUID()): TransferCommandInput => ({
    type: 'immediate',
    id,
    postings: [
      { accountId: debit, direction: 'debit', amount, currency: 'USD' },
      { accountId: credit, direction: 'credit', amount, currency: 'USD' },
    ],
  });

  /** An instant (ms) after every entry written so far and before any written next, by the ledger database's clock. */
  async function boundary(): Promise<string> {
    const { rows } = await superuser.query<{ now: Date }>('SELECT clock_timestamp() AS now');
    await new Promise((resolveWait) => setTimeout(resolveWait, 5));
    return new Date((rows[0] as { now: Date }).now.getTime() + 1).toISOString();
  }

  beforeAll(async () => {
    testStack = await startTestStack();
    stack = testStack.stack;
    credential = `Bearer ${await clientCredentialsToken(stack.gatewayUrl, stack.demo)}`;
    const { BusClient, busTlsFilesFor, connectBus } = await import('@strongroom/platform');
    connection = await connectBus({
      servers: stack.natsUrl,
      tls: busTlsFilesFor(join(testStack.stateDir, 'pki'), 'gateway'),
      name: 'ledger-exports-test',
    });
    bus = new BusClient(connection, { defaultTimeoutMs: 10_000, maxTimeoutMs: 30_000 });
    superuser = new Client({ connectionString: await testStack.adminUrlOf('ledger') });
    await superuser.connect();
    dir = await mkdtemp(join(tmpdir(), 'ledger-exports-e2e-'));
  }, 120_000);

  afterAll(async () => {
    await superuser?.end();
    await connection?.close();
    await testStack?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

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

    const api = ledgerExportApiOverBus(bus, credential);
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
    const verified = await strongroom('ledger', 'verify-export', '--dir', good);
    expect(verified).toMatchObject({ code: 0 });
    expect(verified.output).toMatch(/verified: 10 entries/);
    expect(verified.output).toMatch(/USD: closing debits USD 1041\.00 = credits USD 1041\.00/);

    // The export is in the audit trail: who exported which period, and the digest of what was signed.
    const events = await readStream({
      natsUrl: stack.natsUrl,
      stateDir: testStack.stateDir,
      identity: 'audit',
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
    const tampered = join(dir, 'after-edit');
    await writeLedgerExport({ api, tenantId, from, to, outDir: tampered });
    const caught = await strongroom('ledger', 'verify-export', '--dir', tampered);
    expect(caught.code).toBe(1);
    expect(caught.output).toMatch(/FAILED verification/);
    expect(caught.output).toMatch(
      new RegExp(`entry ${seq} \\(account 1000-cash-${suffix}, transfer ${edited}\\): its balances after`),
    );
    expect(caught.output).toMatch(new RegExp(`transfer ${edited} \\(entries .*\\): debits and credits differ in USD`));

    // A flipped signature, and a manifest re-signed by another key once the platform's is pinned.
    const forged = join(dir, 'forged');
    await cp(good, forged, { recursive: true });
    const signature = (await readFile(join(forged, 'manifest.sig'), 'utf8')).trim();
    const [prefix, version, payload] = signature.split(':') as [string, string, string];
    const bytes = Buffer.from(payload, 'base64');
    bytes[5] = (bytes[5] as number) ^ 0x40;
    await writeFile(join(forged, 'manifest.sig'), `${prefix}:${version}:${bytes.toString('base64')}\n`);
    const refused = await strongroom('ledger', 'verify-export', '--dir', forged);
    expect(refused.code).toBe(1);
    expect(refused.output).toMatch(/manifest.sig is not a valid signature of manifest.json/);

    const forger = generateKeyPairSync('ed25519');
    const resigned = sign(null, await readFile(join(forged, 'manifest.json')), forger.privateKey).toString('base64');
    await writeFile(join(forged, 'manifest.sig'), `${prefix}:${version}:${resigned}\n`);
    const raw = forger.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    const shipped = JSON.parse(await readFile(join(good, 'public-key.json'), 'utf8'));
    await writeFile(join(forged, 'public-key.json'), canonicalJson({ ...shipped, publicKey: raw }));
    const pinned = await strongroom(
      'ledger',
      'verify-export',
      '--dir',
      forged,
      '--public-key',
      join(good, 'public-key.json'),
    );
    expect(pinned.code).toBe(1);
    expect(pinned.output).toMatch(/not a valid signature of manifest.json by any of the trusted keys/);
  });
});
