import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatFigure } from './measure';
import { runPlatformBenchmarks } from './platform.bench';

/** `npm run bench`: one line per figure, and the same as JSON in bench/results.json. */
async function main() {
  const figures = await runPlatformBenchmarks((line) => process.stderr.write(`  ${line}\n`));
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
