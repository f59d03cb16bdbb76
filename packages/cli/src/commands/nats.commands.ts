import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { EVENT_STREAMS, OPERATOR_IDENTITY } from '@strongroom/contracts';
import { busTlsFilesFor, connectBus, ensureEventStreams } from '@strongroom/platform';
import { renderDockerNatsServerConfig, renderNatsServerConfig } from '../nats/config';
import { PKI_DIR_DEFAULT, pkiPaths } from '../pki/pki';
import { type CliCommand, CliError, integerOption, stringOption } from './cli-command';

// DESIGN.md "Running": the local bus listens on 127.0.0.1:4223.
const BUS_HOST_DEFAULT = '127.0.0.1';
const BUS_PORT_DEFAULT = 4223;

export const natsConfigCommand: CliCommand = {
  words: ['nats', 'config'],
  summary: 'Render nats-server.conf (mTLS, permission map, JetStream); --docker for infra/nats paths',
  options: {
    out: { type: 'string' },
    'pki-dir': { type: 'string', default: PKI_DIR_DEFAULT },
    host: { type: 'string', default: BUS_HOST_DEFAULT },
    port: { type: 'string' },
    'jetstream-dir': { type: 'string', default: '.strongroom/nats/jetstream' },
    'monitor-port': { type: 'string' },
    docker: { type: 'boolean', default: false },
  },
  async run(values, log) {
    let text: string;
    if (values.docker === true) {
      text = renderDockerNatsServerConfig();
    } else {
      // nats-server resolves relative paths against its working directory: write absolute ones.
      const paths = pkiPaths(resolve(stringOption(values, 'pki-dir') ?? PKI_DIR_DEFAULT));
      text = renderNatsServerConfig({
        host: stringOption(values, 'host') ?? BUS_HOST_DEFAULT,
        port: integerOption(values, 'port') ?? BUS_PORT_DEFAULT,
        pki: { caFile: paths.caCert, certFile: paths.serverCert, keyFile: paths.serverKey },
        jetstreamDir: resolve(stringOption(values, 'jetstream-dir') ?? '.strongroom/nats/jetstream'),
        monitorPort: integerOption(values, 'monitor-port'),
      });
    }
    const out = stringOption(values, 'out');
    if (out === undefined) {
      process.stdout.write(text);
      return 0;
    }
    if (out === '') throw new CliError('CLI_USAGE', '--out needs a file name');
    writeFileSync(out, text, { mode: 0o644 });
    log(`wrote ${out}`);
    return 0;
  },
};

/**
 * Creates (or updates) the JetStream event streams as the operator identity. `strongroom up`
 * does it itself; a deployment runs it once the bus is up and before the services start (their
 * revocation feed reads EVT_AUTH before they serve).
 */
export const natsStreamsCommand: CliCommand = {
  words: ['nats', 'streams'],
  summary: 'Create or update the JetStream event streams (as the operator identity)',
  options: {
    url: { type: 'string', default: `tls://${BUS_HOST_DEFAULT}:${BUS_PORT_DEFAULT}` },
    'pki-dir': { type: 'string', default: PKI_DIR_DEFAULT },
    replicas: { type: 'string' },
  },
  async run(values, log) {
    const connection = await connectBus({
      servers: stringOption(values, 'url') ?? `tls://${BUS_HOST_DEFAULT}:${BUS_PORT_DEFAULT}`,
      tls: busTlsFilesFor(resolve(stringOption(values, 'pki-dir') ?? PKI_DIR_DEFAULT), OPERATOR_IDENTITY),
      name: OPERATOR_IDENTITY,
    });
    try {
      await ensureEventStreams(connection, integerOption(values, 'replicas') ?? 1);
      log(`event streams: ${EVENT_STREAMS.map((stream) => stream.name).join(', ')}`);
    } finally {
      await connection.close();
    }
    return 0;
  },
};
