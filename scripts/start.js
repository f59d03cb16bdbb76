#!/usr/bin/env node
// `npm start`: from a fresh clone, install what is missing, build, then `strongroom up`.
const path = require('node:path');
const { ROOT, run, ensureNpmPackages, ensureNatsServer } = require('./prerequisites');

ensureNpmPackages();
ensureNatsServer();
console.log('[strongroom] building (turbo, cached)...');
if (run(path.join(ROOT, 'node_modules', '.bin', 'turbo'), ['run', 'build', '--output-logs=errors-only']) !== 0) {
  console.error('[strongroom] build failed');
  process.exit(1);
}
const { runCli } = require(path.join(ROOT, 'packages', 'cli', 'dist', 'main.js'));
runCli(['up', '--root', ROOT, ...process.argv.slice(2)]).then(
  (exitCode) => process.exit(exitCode),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
