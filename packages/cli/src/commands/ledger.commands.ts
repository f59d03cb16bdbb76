import { readFile } from 'node:fs/promises';
import { type LedgerExportSigningKey, ledgerExportSigningKeySchema } from '@strongroom/contracts';
import { ledgerExportApiOverGateway } from '../ledger/export-api';
import { verifyLedgerExport } from '../ledger/export-verification';
import { writeLedgerExport } from '../ledger/export-writer';
import { type CliCommand, CliError, stringOption } from './cli-command';

const GATEWAY_URL_DEFAULT = 'http://127.0.0.1:8080';
/** The access token comes from the environment, never the command line (which `ps` shows to everyone). */
const ACCESS_TOKEN_VARIABLE = 'STRONGROOM_ACCESS_TOKEN';

function required(values: Parameters<CliCommand['run']>[0], name: string): string {
  const value = stringOption(values, name);
  if (value === undefined || value === '') throw new CliError('CLI_USAGE', `--${name} is required`);
  return value;
}

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
    const accessToken = process.env[ACCESS_TOKEN_VARIABLE];
    if (!accessToken) {
      throw new CliError('CLI_USAGE', `set ${ACCESS_TOKEN_VARIABLE} to an access token holding ledger.exports.create`);
    }
    const gatewayUrl = stringOption(values, 'gateway') ?? process.env.STRONGROOM_GATEWAY_URL ?? GATEWAY_URL_DEFAULT;
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
    log(`check it with: strongroom ledger verify-export --dir ${outDir}`);
    return 0;
  },
};

/** A public-key.json of the platform's key, or an array of them (one per key version). */
async function trustedKeysIn(file: string): Promise<LedgerExportSigningKey[]> {
  const refused = new CliError('CLI_USAGE', `--public-key ${file} holds no signing key (public-key.json format)`);
  let content: unknown;
  try {
    content = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw refused;
  }
  const keys = (Array.isArray(content) ? content : [content]).map((key) => ledgerExportSigningKeySchema.safeParse(key));
  if (keys.length === 0 || keys.some((key) => !key.success)) throw refused;
  return keys.map((key) => key.data as LedgerExportSigningKey);
}

export const ledgerVerifyExportCommand: CliCommand = {
  words: ['ledger', 'verify-export'],
  summary: 'Verify an export directory offline: signature, digests, running balances, trial balance',
  options: { dir: { type: 'string' }, 'public-key': { type: 'string' } },
  async run(values, log) {
    const dir = required(values, 'dir');
    const keyFile = stringOption(values, 'public-key');
    const verification = await verifyLedgerExport(
      dir,
      keyFile === undefined ? {} : { trustedKeys: await trustedKeysIn(keyFile) },
    );
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
    log(
      key.pinned
        ? `  signed by ${key.name} v${key.version} (a trusted key)`
        : `  signed by ${key.name} v${key.version}, the key shipped with the export: pass --public-key with the platform's published key to trust it`,
    );
    return 0;
  },
};
