import { type AuditProblem, tenantIdSchema } from '@strongroom/contracts';
import { Client } from 'pg';
import { auditExportApiOverGateway } from '../audit/audit-api';
import { auditDatabaseUrlOf } from '../audit/audit-database';
import { verifyAuditExport } from '../audit/audit-export-verification';
import { writeAuditExport } from '../audit/audit-export-writer';
import { auditSigningKeysFromSecrets, type PinnedAuditKeys, pinnedAuditKeysOf } from '../audit/audit-keys';
import { type TenantVerification, verifyAuditStore } from '../audit/audit-store-verification';
import { type CliCommand, CliError, type CliOptionValues, stringOption } from './cli-command';

const GATEWAY_URL_DEFAULT = 'http://127.0.0.1:8080';
/** The access token comes from the environment, never the command line (which `ps` shows to everyone). */
const ACCESS_TOKEN_VARIABLE = 'STRONGROOM_ACCESS_TOKEN';
/** Problems printed per tenant or export; the count says how many more there are. */
const PROBLEMS_PRINTED_MAX = 20;

function required(values: CliOptionValues, name: string): string {
  const value = stringOption(values, name);
  if (value === undefined || value === '') throw new CliError('CLI_USAGE', `--${name} is required`);
  return value;
}

function tenantOption(values: CliOptionValues): string | undefined {
  const tenant = stringOption(values, 'tenant');
  if (tenant !== undefined && !tenantIdSchema.safeParse(tenant).success)
    throw new CliError('CLI_USAGE', `--tenant must be a tenant id (a UUID), not "${tenant}"`);
  return tenant;
}

const problemList = (problems: readonly AuditProblem[]) =>
  problems
    .slice(0, 5)
    .map((problem) => `${problem.kind}@${problem.seq}`)
    .join(', ') + (problems.length > 5 ? ', …' : '');

function logProblems(log: (line: string) => void, problems: readonly AuditProblem[]): void {
  for (const problem of problems.slice(0, PROBLEMS_PRINTED_MAX)) {
    log(`    seq ${problem.seq}: ${problem.kind}: ${problem.message}`);
  }
  if (problems.length > PROBLEMS_PRINTED_MAX) log(`    … and ${problems.length - PROBLEMS_PRINTED_MAX} more`);
}

/** `tenant T: 1204 records (seq 1–1204), checkpoints 12/12 valid: OK` (or FAILED with the problems' kinds and seqs). */
function tenantLine(verification: TenantVerification): string {
  const { tenantId, records, startSeq, lastSeq, checkpoints, problems } = verification;
  const range = records === 0 ? 'no records' : `${records} records (seq ${startSeq + 1}–${lastSeq})`;
  const verdict = problems.length === 0 ? 'OK' : `FAILED: ${problems.length} problem(s): ${problemList(problems)}`;
  return `tenant ${tenantId}: ${range}, checkpoints ${checkpoints.valid}/${checkpoints.checked} valid: ${verdict}`;
}

/** The keys checkpoints are checked with: --key, else the platform's secrets provider. */
async function storeKeysOf(values: CliOptionValues, log: (line: string) => void): Promise<PinnedAuditKeys> {
  const key = stringOption(values, 'key');
  if (key !== undefined) return pinnedAuditKeysOf(key);
  const found = await auditSigningKeysFromSecrets(process.env);
  if ('keys' in found) return found;
  log(`warning: ${found.missing}: every checkpoint will fail its signature check (pass --key)`);
  return { keys: [] };
}

export const auditVerifyCommand: CliCommand = {
  words: ['audit', 'verify'],
  summary: 'Verify the audit store itself (hash chains, checkpoint signatures), read straight from Postgres',
  options: { tenant: { type: 'string' }, key: { type: 'string' } },
  async run(values, log) {
    const tenantId = tenantOption(values);
    const keys = await storeKeysOf(values, log);
    const client = new Client({
      connectionString: auditDatabaseUrlOf(process.env),
      application_name: 'strongroom-audit-verify',
    });
    await client.connect();
    try {
      let failed = 0;
      const results = await verifyAuditStore({
        client,
        ...(tenantId !== undefined ? { tenantId } : {}),
        keys,
        onTenant: (verification) => {
          log(tenantLine(verification));
          if (verification.problems.length > 0) {
            failed += 1;
            logProblems(log, verification.problems);
          }
        },
      });
      if (results.length === 0) log('the audit store holds no tenant yet: nothing to verify');
      else log(`${results.length} tenant(s) verified, ${failed} with problems`);
      return failed === 0 ? 0 : 1;
    } finally {
      await client.end();
    }
  },
};

export const auditExportCommand: CliCommand = {
  words: ['audit', 'export'],
  summary: "Write a period's audit records (NDJSON, CSV) with the checkpoint covering them, through the gateway",
  options: {
    tenant: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    out: { type: 'string' },
    gateway: { type: 'string' },
  },
  async run(values, log) {
    const accessToken = process.env[ACCESS_TOKEN_VARIABLE];
    if (!accessToken)
      throw new CliError('CLI_USAGE', `set ${ACCESS_TOKEN_VARIABLE} to an access token holding audit.records.export`);
    const tenantId = tenantOption(values);
    const outDir = required(values, 'out');
    const exported = await writeAuditExport({
      api: auditExportApiOverGateway({
        gatewayUrl: stringOption(values, 'gateway') ?? process.env.STRONGROOM_GATEWAY_URL ?? GATEWAY_URL_DEFAULT,
        accessToken,
      }),
      ...(tenantId !== undefined ? { tenantId } : {}),
      from: required(values, 'from'),
      to: required(values, 'to'),
      outDir,
    });
    const range =
      exported.records === 0
        ? 'no records'
        : `${exported.records} records (seq ${exported.firstSeq}–${exported.lastSeq})`;
    log(
      `audit export of tenant ${exported.tenantId}, ${exported.from} to ${exported.to}: ${range}, written to ${outDir}`,
    );
    log(`check it with: strongroom audit verify-export ${outDir} --key <the pinned checkpoint public key>`);
    return 0;
  },
};

export const auditVerifyExportCommand: CliCommand = {
  words: ['audit', 'verify-export'],
  summary: 'Verify an audit export directory offline against a pinned checkpoint key',
  options: { dir: { type: 'string' }, key: { type: 'string' } },
  positionals: true,
  async run(values, log, positionals = []) {
    const dir = stringOption(values, 'dir') ?? positionals[0];
    if (dir === undefined || positionals.length > 1) throw new CliError('CLI_USAGE', 'name one export directory');
    const key = stringOption(values, 'key');
    if (key === undefined)
      throw new CliError(
        'CLI_USAGE',
        '--key is required: the pinned checkpoint public key (base64, or a file), never the one shipped in the export',
      );
    const verification = await verifyAuditExport(dir, await pinnedAuditKeysOf(key));
    const { exported } = verification;
    if (!verification.ok || exported === undefined) {
      log(
        `export ${dir} FAILED verification: ${verification.problems.length} problem(s): ${problemList(verification.problems)}`,
      );
      logProblems(log, verification.problems);
      return 1;
    }
    const range =
      exported.records === 0
        ? 'no records'
        : `${exported.records} records (seq ${exported.firstSeq}–${exported.lastSeq})`;
    log(`export of tenant ${exported.tenantId}, ${exported.from} to ${exported.to} verified: ${range}`);
    if (exported.checkpoint !== null)
      log(
        `  every record links from the start hash to the checkpoint at ${exported.checkpoint.statement.seq}, signed by a pinned key (v${exported.checkpoint.keyVersion})`,
      );
    if (verification.unanchoredStartSeq !== undefined)
      log(
        `  note: nothing signed says the export starts after ${verification.unanchoredStartSeq}: compare firstSeq with the checkpoint list, or with the previous export`,
      );
    return 0;
  },
};
