import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startStack } from '../up/stack';
import type { CliCommand } from './cli-command';
import { stringOption } from './cli-command';

/** `strongroom up`: the whole platform on this machine until Ctrl-C. */
export const upCommand: CliCommand = {
  words: ['up'],
  summary: 'start Postgres, NATS (mTLS), every service and the gateway; Ctrl-C stops all',
  options: { 'state-dir': { type: 'string' }, root: { type: 'string' } },
  async run(values, log) {
    const stateDir = resolve(stringOption(values, 'state-dir') ?? process.env.STRONGROOM_STATE_DIR ?? '.strongroom');
    const rootDir = resolve(stringOption(values, 'root') ?? process.cwd());
    const startedAt = Date.now();
    const stack = await startStack({ rootDir, stateDir, env: process.env, log: (line) => log(`[strongroom] ${line}`) });
    const demo = { gatewayUrl: stack.gatewayUrl, natsUrl: stack.natsUrl, stateDir, ...stack.demo };
    writeFileSync(join(stateDir, 'demo.json'), `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
    log(
      [
        '',
        `Strongroom is up (${((Date.now() - startedAt) / 1000).toFixed(1)} s).`,
        `  gateway      ${stack.gatewayUrl}`,
        `  health       ${stack.gatewayUrl}/health`,
        `  bus          ${stack.natsUrl} (mutual TLS; certificates in ${join(stateDir, 'pki')})`,
        `  logs         ${join(stateDir, 'logs')}`,
        `  demo tenant  ${stack.demo.tenantSlug} (${stack.demo.tenantId})`,
        `  demo admin   ${stack.demo.adminEmail} / ${stack.demo.adminPassword}`,
        `  demo client  ${stack.demo.clientId} (secret in demo.json; POST ${stack.gatewayUrl}/oauth/token)`,
        `  platform     ${stack.demo.platformClientId} (tenant administration; secret in demo.json)`,
        `  demo file    ${join(stateDir, 'demo.json')}`,
        '',
        'Press Ctrl-C to stop.',
      ].join('\n'),
    );
    const reason = await Promise.race([
      new Promise<string>((resolveSignal) => {
        process.once('SIGINT', () => resolveSignal('SIGINT'));
        process.once('SIGTERM', () => resolveSignal('SIGTERM'));
      }),
      stack.failed.then((name) => `${name} failed`),
    ]);
    log(`[strongroom] stopping (${reason})...`);
    await stack.stop();
    log('[strongroom] stopped');
    return reason.endsWith('failed') ? 1 : 0;
  },
};
