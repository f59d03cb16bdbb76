#!/usr/bin/env node
// `npm run bench`: the benchmarks, each a ratio against a baseline measured in the same run.
const path = require('node:path');
const { ROOT, run, ensureNpmPackages, ensureNatsServer } = require('./prerequisites');

ensureNpmPackages();
ensureNatsServer();
// The OAuth figures run the built apps (dist/) as `npm start` does.
console.log('[strongroom] building (turbo, cached)...');
if (run(path.join(ROOT, 'node_modules', '.bin', 'turbo'), ['run', 'build', '--output-logs=errors-only']) !== 0) {
  console.error('[strongroom] build failed');
  process.exit(1);
}
const register = path.join(ROOT, 'packages', 'testing', 'register.js');
process.exit(run(process.execPath, ['-r', register, path.join(ROOT, 'bench', 'run.ts')]));
