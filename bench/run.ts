import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireTestPostgres, TEST_ADMIN_URL_VARIABLE } from '@strongroom/testing';
import { runAuditBenchmarks } from './audit.bench';
import { runGatewayBenchmarks } from './gateway.bench';
import { runLedgerBenchmarks } from './ledger.bench';
import { type Figure, formatFigure } from './measure';
import { runOauthBenchmarks } from './oauth.bench';
import { runPlatformBenchmarks } from './platform.bench';

/** `npm run bench`: one line per figure, and the same as JSON in bench/results.json. */
async function main() {
  const log = (line: string) => process.stderr.write(`  ${line}\n`);
  // One Postgres for every benchmark (the running stack's databases included).
  const postgres = await acquireTestPostgres();
  process.env[TEST_ADMIN_URL_VARIABLE] = postgres.adminUrl;
  const figures: Figure[] = [];
  try {
    // BENCH_ONLY=gateway (or platform, oauth, ledger, audit; comma-separated) runs a subset while working on one.
    const only = process.env.BENCH_ONLY?.split(',');
    const wanted = (name: string) => only === undefined || only.includes(name);
    if (wanted('platform')) figures.push(...(await runPlatformBenchmarks(log)));
    if (wanted('oauth')) figures.push(...(await runOauthBenchmarks(log)));
    if (wanted('gateway')) figures.push(...(await runGatewayBenchmarks(log)));
    if (wanted('ledger')) figures.push(...(await runLedgerBenchmarks(log)));
    if (wanted('audit')) figures.push(...(await runAuditBenchmarks(log)));
  } finally {
    await postgres.stop();
  }
  for (const f of figures) process.stdout.write(`${formatFigure(f)}\n`);
  mkdirSync(__dirname, { recursive: true });
  const results = { machine: { cpus: require('node:os').cpus().length, node: process.version }, figures };
  writeFileSync(join(__dirname, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
