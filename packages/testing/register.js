// `node -r @strongroom/testing/register fixture.ts`: lets a child process of a fault test run the
// repo's TypeScript sources directly (compiled by swc on load, workspace packages from src/).
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const { transformSync } = require('@swc/core');

const ROOT = path.resolve(__dirname, '../..');
const swcrc = JSON.parse(fs.readFileSync(path.join(ROOT, '.swcrc'), 'utf8'));
delete swcrc.$schema;
const WORKSPACE_PACKAGE = /^@strongroom\/(contracts|platform|testing|cli)$/;

require.extensions['.ts'] = function compileTypeScript(module, filename) {
  const { code } = transformSync(fs.readFileSync(filename, 'utf8'), { ...swcrc, filename, swcrc: false });
  module._compile(code, filename);
};

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function resolveWorkspace(request, ...rest) {
  const match = WORKSPACE_PACKAGE.exec(request);
  const target = match ? path.join(ROOT, 'packages', match[1], 'src', 'index.ts') : request;
  return resolveFilename.call(this, target, ...rest);
};
