import { generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AUDIT_CHECKPOINT_FORMAT,
  AUDIT_CHECKPOINT_SIGNING_KEY,
  AUDIT_EXPORT_FORMAT,
  AUDIT_GENESIS_HASH,
  type AuditCheckpoint,
  type AuditExport,
  type AuditSigningKey,
  auditEventSchema,
  canonicalJson,
  chainAuditEvents,
} from '@strongroom/contracts';
import {
  AUDIT_EXPORT_CSV_COLUMNS,
  AUDIT_EXPORT_FILES,
  type AuditExportApi,
  verifyAuditExport,
  writeAuditExport,
} from '../src';
import { runCli } from '../src/main';

const TENANT = '5f0c6a52-3b7e-4d1a-9c2f-8e4b1a6d7c90';
const FROM = '2026-01-01T00:00:00.000Z';
const TO = '2026-02-01T00:00:00.000Z';

interface SigningKeyPair {
  privateKey: KeyObject;
  key: AuditSigningKey;
}

function signingKeyPair(version = 1): SigningKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  // The raw 32 bytes after the SPKI prefix, base64: Vault Transit's form.
  const raw = (publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(12).toString('base64');
  return { privateKey, key: { name: AUDIT_CHECKPOINT_SIGNING_KEY, version, algorithm: 'Ed25519', publicKey: raw } };
}

function checkpointOf(pair: SigningKeyPair, seq: number, headHash: string, tenantId = TENANT): AuditCheckpoint {
  const statement = {
    format: AUDIT_CHECKPOINT_FORMAT,
    tenantId,
    seq,
    headHash,
    createdAt: '2026-02-01T00:00:01.000Z',
  } as const;
  const signature = sign(null, Buffer.from(canonicalJson(statement), 'utf8'), pair.privateKey).toString('base64');
  return { statement, signature: `vault:v${pair.key.version}:${signature}`, keyVersion: pair.key.version };
}

/** A tenant's chain of `count` records, as the audit service stores them (document, hash). */
function chainOf(count: number, tamper?: { index: number; resourceId: string }) {
  const events = Array.from({ length: count }, (_, index) => ({
    event: auditEventSchema.parse({
      id: randomUUID(),
      tenantId: TENANT,
      occurredAt: `2026-01-0${1 + (index % 9)}T10:00:00.000Z`,
      actor: { type: 'client', id: 'client-1' },
      action: 'ledger.transfer.redemption',
      resource: { type: 'transfer', id: tamper?.index === index ? tamper.resourceId : `transfer-${index}` },
      outcome: 'success',
      requestId: `req-${index}`,
    }),
    emitter: 'ledger' as const,
  }));
  return chainAuditEvents({ seq: 0, hash: AUDIT_GENESIS_HASH }, events, '2026-01-15T00:00:00.000Z').map(
    ({ record, document, hash }) => ({ seq: record.seq, document, hash }),
  );
}

/** The audit service's answers for records firstSeq–lastSeq of a chain: what the gateway relays. */
function apiOver(
  chain: ReturnType<typeof chainOf>,
  firstSeq: number,
  lastSeq: number,
  pair: SigningKeyPair,
): AuditExportApi {
  const exported: AuditExport = {
    format: AUDIT_EXPORT_FORMAT,
    tenantId: TENANT,
    from: FROM,
    to: TO,
    records: lastSeq - firstSeq + 1,
    firstSeq,
    lastSeq,
    startHash: firstSeq === 1 ? AUDIT_GENESIS_HASH : chain[firstSeq - 2]!.hash,
    checkpoint: checkpointOf(pair, lastSeq, chain[lastSeq - 1]!.hash),
    signingKeys: [pair.key],
  };
  return {
    create: async () => exported,
    records: async ({ limit = 1_000, cursor }) => {
      const after = cursor === undefined ? firstSeq - 1 : Number(cursor);
      const page = chain.filter((record) => record.seq > after && record.seq <= lastSeq).slice(0, limit);
      const last = page[page.length - 1];
      return { records: page, nextCursor: last !== undefined && last.seq < lastSeq ? String(last.seq) : null };
    },
    signingKeys: async () => [pair.key],
  };
}

describe('audit exports written and verified offline (strongroom audit export / verify-export)', () => {
  const platform = signingKeyPair();
  const chain = chainOf(12);
  let root: string;
  let dir: string;
  const lines = () => readFileSync(join(dir, AUDIT_EXPORT_FILES.records), 'utf8').split('\n').slice(0, -1);
  const writeLines = (next: string[]) => writeFileSync(join(dir, AUDIT_EXPORT_FILES.records), `${next.join('\n')}\n`);
  const exportJson = () => JSON.parse(readFileSync(join(dir, AUDIT_EXPORT_FILES.export), 'utf8')) as AuditExport;
  const writeExportJson = (value: AuditExport) =>
    writeFileSync(join(dir, AUDIT_EXPORT_FILES.export), JSON.stringify(value, null, 2));
  const pinned = { material: platform.key.publicKey };
  const kindsAndSeqs = async (keys: Parameters<typeof verifyAuditExport>[1] = pinned) =>
    (await verifyAuditExport(dir, keys)).problems.map((problem) => `${problem.kind}@${problem.seq}`);

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'strongroom-audit-export-'));
    dir = join(root, 'export');
    // Records 1–10 of 12, three to a page: the writer follows the cursor.
    await writeAuditExport({ api: apiOver(chain, 1, 10, platform), from: FROM, to: TO, outDir: dir, pageLimit: 3 });
  });

  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes each stored document exactly, one per line, a CSV of the same records, and the answer as export.json', () => {
    expect(lines()).toEqual(chain.slice(0, 10).map((record) => record.document));
    const csv = readFileSync(join(dir, AUDIT_EXPORT_FILES.csv), 'utf8').split('\r\n');
    expect(csv[0]).toBe(AUDIT_EXPORT_CSV_COLUMNS.join(','));
    expect(csv[3]).toBe(
      `3,2026-01-03T10:00:00.000Z,2026-01-15T00:00:00.000Z,ledger,client,client-1,ledger.transfer.redemption,transfer,transfer-2,success,,req-2,,,${chain[2]!.hash}`,
    );
    expect(csv).toHaveLength(12);
    expect(exportJson()).toMatchObject({ tenantId: TENANT, firstSeq: 1, lastSeq: 10, records: 10 });
  });

  it('refuses to write over an export', async () => {
    await expect(
      writeAuditExport({ api: apiOver(chain, 1, 10, platform), from: FROM, to: TO, outDir: dir }),
    ).rejects.toMatchObject({ code: 'AUDIT_EXISTS' });
  });

  it('verifies an export as written, with the pinned key as base64 or as the signing-keys file', async () => {
    await expect(verifyAuditExport(dir, pinned)).resolves.toMatchObject({ ok: true, records: 10, problems: [] });
    const keyFile = join(root, 'audit-keys.json');
    writeFileSync(keyFile, JSON.stringify({ keys: [platform.key] }));
    const logged: string[] = [];
    expect(await runCli(['audit', 'verify-export', dir, '--key', keyFile], (line) => logged.push(line))).toBe(0);
    expect(logged[0]).toContain('verified: 10 records (seq 1–10)');
    expect(await runCli(['audit', 'verify-export', '--dir', dir, '--key', platform.key.publicKey], () => {})).toBe(0);
    // The keys as an array, one key alone, and the raw key in a file.
    for (const content of [
      JSON.stringify([platform.key]),
      JSON.stringify(platform.key),
      `${platform.key.publicKey}\n`,
    ]) {
      writeFileSync(keyFile, content);
      expect(await runCli(['audit', 'verify-export', dir, '--key', keyFile], () => {})).toBe(0);
    }
  });

  it('verifies an export that starts mid-chain from its start hash, saying its start is not signed', async () => {
    const middle = join(root, 'middle');
    await writeAuditExport({ api: apiOver(chain, 4, 9, platform), from: FROM, to: TO, outDir: middle });
    await expect(verifyAuditExport(middle, pinned)).resolves.toMatchObject({
      ok: true,
      records: 6,
      unanchoredStartSeq: 3,
    });
    const logged: string[] = [];
    expect(
      await runCli(['audit', 'verify-export', middle, '--key', platform.key.publicKey], (line) => logged.push(line)),
    ).toBe(0);
    expect(logged.join('\n')).toContain('nothing signed says the export starts after 3');
  });

  it('finds a changed line: the next record no longer follows it', async () => {
    const changed = lines();
    changed[4] = changed[4]!.replace('"transfer-4"', '"transfer-X"');
    writeLines(changed);
    expect(await kindsAndSeqs()).toEqual(['link_broken@6']);
    const logged: string[] = [];
    expect(
      await runCli(['audit', 'verify-export', dir, '--key', platform.key.publicKey], (line) => logged.push(line)),
    ).toBe(1);
    expect(logged[0]).toContain('FAILED verification: 1 problem(s): link_broken@6');
  });

  it('finds a changed last line: the checkpoint signed another head', async () => {
    const changed = lines();
    changed[9] = changed[9]!.replace('"success"', '"failure"');
    writeLines(changed);
    expect(await kindsAndSeqs()).toEqual(['checkpoint_mismatch@10', 'head_mismatch@10']);
  });

  it('finds a removed line at its position, and the end the checkpoint vouches for missing', async () => {
    const removed = lines();
    removed.splice(3, 1);
    writeLines(removed);
    const found = await kindsAndSeqs();
    expect(found.slice(0, 2)).toEqual(['record_misplaced@4', 'link_broken@4']);
    expect(found).toContain('records_truncated@10');
  });

  it('finds swapped lines at both positions', async () => {
    const swapped = lines();
    [swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!];
    writeLines(swapped);
    expect(await kindsAndSeqs()).toEqual([
      'record_misplaced@3',
      'link_broken@3',
      'record_misplaced@4',
      'link_broken@4',
      'link_broken@5',
    ]);
  });

  it('finds an inserted line (a record repeated)', async () => {
    const inserted = lines();
    inserted.splice(5, 0, inserted[4]!);
    writeLines(inserted);
    expect((await kindsAndSeqs()).slice(0, 2)).toEqual(['record_misplaced@6', 'link_broken@6']);
  });

  it('refuses a chain rewritten consistently and signed with a key of its own, even shipped inside the export', async () => {
    const forger = signingKeyPair();
    const rewritten = chainOf(10, { index: 4, resourceId: 'transfer-forged' });
    writeLines(rewritten.map((record) => record.document));
    writeExportJson({
      ...exportJson(),
      checkpoint: checkpointOf(forger, 10, rewritten[9]!.hash),
      signingKeys: [forger.key],
    });
    expect(await kindsAndSeqs()).toEqual(['checkpoint_signature_invalid@10']);
    // The same export checks out against the forger's key: which key is pinned is the whole point.
    await expect(verifyAuditExport(dir, { material: forger.key.publicKey })).resolves.toMatchObject({ ok: true });
  });

  it("refuses a checkpoint whose statement was edited (another head hash) without the platform's signature", async () => {
    const exported = exportJson();
    const lastButOne = chain[8]!.hash;
    writeExportJson({
      ...exported,
      lastSeq: 9,
      records: 9,
      checkpoint: {
        ...exported.checkpoint!,
        statement: { ...exported.checkpoint!.statement, seq: 9, headHash: lastButOne },
      },
    });
    writeLines(lines().slice(0, 9));
    expect(await kindsAndSeqs()).toContain('checkpoint_signature_invalid@9');
  });

  it('refuses a good export under the wrong pinned key', async () => {
    expect(await kindsAndSeqs({ material: signingKeyPair().key.publicKey })).toEqual([
      'checkpoint_signature_invalid@10',
    ]);
    expect(await kindsAndSeqs({ keys: [{ ...signingKeyPair().key }] })).toEqual(['checkpoint_signature_invalid@10']);
  });

  it('refuses an export without export.json, and a --key that is no key', async () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => {});
    rmSync(join(dir, AUDIT_EXPORT_FILES.export));
    await expect(verifyAuditExport(dir, pinned)).resolves.toMatchObject({
      ok: false,
      problems: [{ kind: 'record_unreadable' }],
    });
    expect(await runCli(['audit', 'verify-export', dir, '--key', 'not-a-key'], () => {})).toBe(1);
    expect(await runCli(['audit', 'verify-export', dir], () => {})).toBe(1);
    expect(errors.mock.calls.map(([line]) => String(line))).toEqual([
      expect.stringContaining('[CLI_USAGE] --key not-a-key is neither'),
      expect.stringContaining('[CLI_USAGE] --key is required'),
    ]);
    errors.mockRestore();
  });
});
