#!/usr/bin/env node
// `npm test`: everything, from a fresh clone — install, lint, typecheck, build, then Jest.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ROOT, run, ensureNpmPackages, ensureNatsServer } = require('./prerequisites');

ensureNpmPackages();
ensureNatsServer();

const bin = (name) => path.join(ROOT, 'node_modules', '.bin', name);
const steps = [
  ['lint and format (biome)', bin('biome'), ['ci', '.']],
  ['typecheck (tsc)', bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']],
  ['build (turbo)', bin('turbo'), ['run', 'build', '--output-logs=errors-only']],
];
for (const [name, command, args] of steps) {
  console.log(`\n[strongroom] ${name}`);
  if (run(command, args) !== 0) {
    console.error(`[strongroom] ${name} failed`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

console.log('\n[strongroom] jest');
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), 'strongroom-jest-'));
const report = path.join(reportDir, 'report.json');
const status = run(bin('jest'), ['--ci', '--json', `--outputFile=${report}`, ...process.argv.slice(2)]);
let passed = 0;
let failed = 0;
try {
  const summary = JSON.parse(fs.readFileSync(report, 'utf8'));
  passed = summary.numPassedTests;
  failed = summary.numFailedTests + summary.numRuntimeErrorTestSuites;
} catch {
  failed = 1;
}
fs.rmSync(reportDir, { recursive: true, force: true });
if (status !== 0 && failed === 0) failed = 1;
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(status === 0 && failed === 0 ? 0 : 1);
