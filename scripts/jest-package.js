#!/usr/bin/env node
// `npm test -w <workspace>` (and turbo's test task): run the root Jest config on one workspace.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const relative = path.relative(root, process.cwd());
const result = spawnSync(
  process.execPath,
  [require.resolve('jest/bin/jest', { paths: [root] }), relative, ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
process.exit(result.status ?? 1);
