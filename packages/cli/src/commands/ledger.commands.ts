import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import {
  canonicalJson,
  LEDGER_EXPORT_SIGNING_KEY,
  type LedgerExportSigningKey,
  ledgerExportSigningKeySchema,
} from '@strongroom/contracts';
import {
  LEDGER_EXPORT_SIGNING_KEYS_MAX,
  LedgerExportError,
  ledgerExportApiOverGateway,
  ledgerExportSigningKeysOverGateway,
} from '../ledger/export-api';
import type { LedgerExportKeyTrust } from '../ledger/export-signature';
import { verifyLedgerExport } from '../ledger/export-verification';
import { writeLedgerExport } from '../ledger/export-writer';
import { type CliCommand, CliError, stringOption } from './cli-command';

const GATEWAY_URL_DEFAULT = 'http://127.0.0.1:8080';
/** The access token comes from the environment, never the command line (which `ps` shows to everyone). */
const ACCESS_TOKEN_VARIABLE = 'STRONGROOM_ACCESS_TOKEN';

/** A pinned-key file lists a few key versions: a few kilobytes. */
const PINNED_KEYS_FILE_BYTES_MAX = 1024 * 1024;

function required(values: Parameters<CliCommand['run']>[0], name: string): string {
  const value = stringOption(values, name);
  if (value === undefined || value === '') throw new CliError('CLI_USAGE', `--${name} is required`);
  return value;
}

function accessTokenOfEnvironment(): string {
  const accessToken = process.env[ACCESS_TOKEN_VARIABLE];
  if (!accessToken) {
    throw new CliError('CLI_USAGE', `set ${ACCESS_TOKEN_VARIABLE} to an access token holding ledger.exports.create`);
  }
  return accessToken;
}

const gatewayUrlOf = (values: Parameters<CliCommand['run']>[0]) =>
  stringOption(values, 'gateway') ?? process.env.STRONGROOM_GATEWAY_URL ?? GATEWAY_URL_DEFAULT;

/** 105000 with exponent 2 → 1050.00: amounts as an auditor reads them. */
function majorUnits(minor: string, exponent: number): string {
  if (exponent === 0) return minor;
  const digits = minor.padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

export const ledgerExportCommand: CliCommand = {
  words: ['ledger', 'export'],
  summary: "Write a period's signed audit export (entries, balances, trial balance) through the gateway",
  options: {
    tenant: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    out: { type: 'string' },
    gateway: { type: 'string' },
  },
  async run(values, log) {
    const accessToken = accessTokenOfEnvironment();
    const gatewayUrl = gatewayUrlOf(values);
    const outDir = required(values, 'out');
    const manifest = await writeLedgerExport({
      api: ledgerExportApiOverGateway({ gatewayUrl, accessToken }),
      tenantId: required(values, 'tenant'),
      from: required(values, 'from'),
      to: required(values, 'to'),
      outDir,
    });
    log(
      `export ${manifest.exportId} of ${manifest.from} to ${manifest.to} written to ${outDir}: ` +
        `${manifest.entries} entries, ${manifest.accounts} accounts`,
    );
    log(`check it with: strongroom ledger verify-export --dir ${outDir} --public-key <the file of ledger export-keys>`);
    return 0;
  },
};

/** SHA-256 of the raw public key, to compare with the platform's published keys by eye. */
const fingerprintOf = (key: LedgerExportSigningKey) =>
  createHash('sha256').update(Buffer.from(key.publicKey, 'base64')).digest('hex');

export const ledgerExportKeysCommand: CliCommand = {
  words: ['ledger', 'export-keys'],
  summary: "Write the platform's export signing public keys, to pin with verify-export --public-key",
  options: { tenant: { type: 'string' }, gateway: { type: 'string' }, out: { type: 'string' } },
  async run(values, log) {
    const accessToken = accessTokenOfEnvironment();
    const out = required(values, 'out');
    const answered = await ledgerExportSigningKeysOverGateway(
      { gatewayUrl: gatewayUrlOf(values), accessToken },
      required(values, 'tenant'),
    );
    // Only the export signing key is worth pinning: verify-export ignores any other.
    const keys = answered.filter((key) => key.name === LEDGER_EXPORT_SIGNING_KEY);
    if (keys.length === 0) {
      throw new LedgerExportError('EXPORT_REFUSED', `the gateway listed no ${LEDGER_EXPORT_SIGNING_KEY} key`);
    }
    // 'wx': a pinned key is a trust anchor, replaced on purpose (remove the file), never by accident.
    await writeFile(out, `${canonicalJson(keys)}\n`, { flag: 'wx', mode: 0o644 }).catch((error: unknown) => {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      throw new CliError('CLI_USAGE', `${out} exists already: nothing is overwritten (remove it to pin anew)`);
    });
    log(`${keys.length} key version(s) of ${LEDGER_EXPORT_SIGNING_KEY} written to ${out}:`);
    for (const key of keys) log(`  v${key.version} ${key.algorithm} sha256:${fingerprintOf(key)}`);
    log(`verify exports with: strongroom ledger verify-export --dir DIR --public-key ${out}`);
    return 0;
  },
};

/** The keys of a pinned-key file: a public-key.json of the platform's key, or an array of them (one per key version). */
async function trustedKeysIn(file: string): Promise<LedgerExportSigningKey[]> {
  const refused = new CliError('CLI_USAGE', `--public-key ${file} holds no signing key (public-key.json format)`);
  let content: unknown;
  try {
    if ((await stat(file)).size > PINNED_KEYS_FILE_BYTES_MAX) throw refused;
    content = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw refused;
  }
  const keys = (Array.isArray(content) ? content : [content]).map((key) => ledgerExportSigningKeySchema.safeParse(key));
  if (keys.length === 0 || keys.length > LEDGER_EXPORT_SIGNING_KEYS_MAX || keys.some((key) => !key.success)) {
    throw refused;
  }
  return keys.map((key) => key.data as LedgerExportSigningKey);
}

const EMBEDDED_KEY_WARNING = [
  'WARNING: --trust-embedded-key: the signature is checked with the public-key.json shipped INSIDE the export.',
  'WARNING: anyone can edit the files, re-sign them with a key of their own and ship that key: this proves',
  'WARNING: the INTEGRITY of the files only, NOT their ORIGIN. Pin the platform key with --public-key for that.',
];

/** The trust the options choose, or undefined when they choose none (or both). */
async function keyTrustOf(values: Parameters<CliCommand['run']>[0]): Promise<LedgerExportKeyTrust | undefined> {
  const keyFile = stringOption(values, 'public-key');
  const trustEmbeddedKey = values['trust-embedded-key'] === true;
  if (keyFile !== undefined && trustEmbeddedKey) {
    throw new CliError('CLI_USAGE', 'pass --public-key or --trust-embedded-key, not both');
  }
  if (keyFile !== undefined) return { trustedKeys: await trustedKeysIn(keyFile) };
  return trustEmbeddedKey ? { trustEmbeddedKey: true } : undefined;
}

export const ledgerVerifyExportCommand: CliCommand = {
  words: ['ledger', 'verify-export'],
  summary: 'Verify an export directory offline: signature, digests, running balances, trial balance',
  options: {
    dir: { type: 'string' },
    'public-key': { type: 'string' },
    'trust-embedded-key': { type: 'boolean' },
  },
  async run(values, log) {
    const dir = required(values, 'dir');
    const trust = await keyTrustOf(values);
    if (trust === undefined) {
      log(`export ${dir} NOT verified: signature not checked against a pinned platform key`);
      log('  pass --public-key FILE with the platform keys (strongroom ledger export-keys --tenant T --out FILE),');
      log('  or --trust-embedded-key to check the files against the key shipped inside them (integrity, not origin)');
      return 1;
    }
    if (trust.trustEmbeddedKey) for (const line of EMBEDDED_KEY_WARNING) log(line);
    const verification = await verifyLedgerExport(dir, trust);
    const { manifest, key } = verification;
    if (!verification.ok) {
      log(`export ${dir} FAILED verification: ${verification.problemCount} problem(s)`);
      for (const problem of verification.problems) log(`  - ${problem}`);
      const undescribed = verification.problemCount - verification.problems.length;
      if (undescribed > 0) log(`  … and ${undescribed} more`);
      return 1;
    }
    if (manifest === undefined || key === undefined) return 1;
    log(`export ${manifest.exportId} verified: ${manifest.entries} entries, ${manifest.accounts} accounts`);
    log(`  period ${manifest.from} to ${manifest.to}, tenant ${manifest.tenantId} (${manifest.environment})`);
    for (const totals of manifest.trialBalance) {
      const amount = (minor: string) => `${totals.currency} ${majorUnits(minor, totals.currencyExponent)}`;
      log(
        `  ${totals.currency}: closing debits ${amount(totals.closingDebitsPosted)} = credits ${amount(totals.closingCreditsPosted)}; ` +
          `period debits ${amount(totals.periodDebits)} = credits ${amount(totals.periodCredits)}`,
      );
    }
    if (key.pinned) {
      log(`  signed by ${key.name} v${key.version} (a pinned platform key)`);
    } else {
      log(`  signed by ${key.name} v${key.version}, the key shipped with the export: integrity only, NOT origin`);
      for (const line of EMBEDDED_KEY_WARNING) log(line);
    }
    return 0;
  },
};
