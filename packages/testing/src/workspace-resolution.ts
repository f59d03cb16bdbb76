import Module from 'node:module';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const WORKSPACE_PACKAGE = /^@strongroom\/(contracts|platform|testing|cli)$/;

type Resolve = (request: string, ...rest: unknown[]) => string;
const moduleInternals = Module as unknown as { _resolveFilename: Resolve };
const resolveFilename = moduleInternals._resolveFilename;

/**
 * Jest's globalSetup runs outside the test sandbox, where `moduleNameMapper` does not apply:
 * point workspace packages at their TypeScript sources there too, so setup never needs a build.
 */
moduleInternals._resolveFilename = function resolveWorkspace(this: unknown, request: string, ...rest: unknown[]) {
  const match = WORKSPACE_PACKAGE.exec(request);
  const target = match ? join(ROOT, 'packages', match[1]!, 'src', 'index.ts') : request;
  return resolveFilename.call(this, target, ...rest);
};
