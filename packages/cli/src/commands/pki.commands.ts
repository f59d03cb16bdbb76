import { initPki, PKI_DIR_DEFAULT, type PkiReport, rotatePki } from '../pki/pki';
import { type CliCommand, integerOption, stringListOption, stringOption } from './cli-command';

const sharedOptions = {
  dir: { type: 'string', default: PKI_DIR_DEFAULT },
  host: { type: 'string', multiple: true },
  days: { type: 'string' },
} as const;

function describe(report: PkiReport, log: (line: string) => void): number {
  log(
    report.issued.length === 0
      ? `PKI in ${report.paths.dir} is complete and valid`
      : `issued in ${report.paths.dir}: ${report.issued.join(', ')}`,
  );
  return 0;
}

export const pkiInitCommand: CliCommand = {
  words: ['pki', 'init'],
  summary: 'Create the internal CA, the nats-server and the client certificates (reuses valid ones)',
  options: sharedOptions,
  async run(values, log) {
    const report = await initPki({
      dir: stringOption(values, 'dir'),
      serverHosts: stringListOption(values, 'host'),
      validityDays: integerOption(values, 'days'),
    });
    return describe(report, log);
  },
};

export const pkiRotateCommand: CliCommand = {
  words: ['pki', 'rotate'],
  summary: 'Re-issue the server and client certificates; --ca re-issues the CA too',
  options: { ...sharedOptions, ca: { type: 'boolean', default: false } },
  async run(values, log) {
    const report = await rotatePki({
      dir: stringOption(values, 'dir'),
      serverHosts: stringListOption(values, 'host'),
      validityDays: integerOption(values, 'days'),
      rotateCa: values.ca === true,
    });
    if (values.ca === true) log('the CA changed: restart nats-server and every service with the new files');
    return describe(report, log);
  },
};
