#!/usr/bin/env node
// `npm run bench`: the benchmarks, each a ratio against a baseline measured in the same run.
const path = require('node:path');
const { ROOT, run, ensureNpmPackages, ensureNatsServer } = require('./prerequisites');

ensureNpmPackages();
ensureNatsServer();
const register = path.join(ROOT, 'packages', 'testing', 'register.js');
process.exit(run(process.execPath, ['-r', register, path.join(ROOT, 'bench', 'run.ts')]));
