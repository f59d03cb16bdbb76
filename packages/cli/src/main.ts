#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { auditExportCommand, auditVerifyCommand, auditVerifyExportCommand } from './commands/audit.commands';
import { type CliCommand, CliError } from './commands/cli-command';
import { ledgerExportCommand, ledgerExportKeysCommand, ledgerVerifyExportCommand } from './commands/ledger.commands';
import { natsConfigCommand, natsStreamsCommand } from './commands/nats.commands';
import { pkiInitCommand, pkiRotateCommand } from './commands/pki.commands';
import { upCommand } from './commands/up.command';

/** Every `strongroom` command; a new one is one entry here. */
export const CLI_COMMANDS: readonly CliCommand[] = [
  upCommand,
  pkiInitCommand,
  pkiRotateCommand,
  natsConfigCommand,
  natsStreamsCommand,
  ledgerExportCommand,
  ledgerExportKeysCommand,
  ledgerVerifyExportCommand,
  auditVerifyCommand,
  auditExportCommand,
  auditVerifyExportCommand,
];

function usage(): string {
  const lines = CLI_COMMANDS.map((command) => `  strongroom ${command.words.join(' ').padEnd(16)} ${command.summary}`);
  return ['usage:', ...lines].join('\n');
}

function findCommand(argv: readonly string[]): CliCommand | undefined {
  return CLI_COMMANDS.find((command) => command.words.every((word, index) => argv[index] === word));
}

function codeOf(error: unknown): string {
  if (error instanceof CliError) return error.code;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : 'ERROR';
}

/** Runs one command line; resolves to the exit code. Errors with a `code` are reported as such. */
export async function runCli(argv: readonly string[], log: (line: string) => void = console.log): Promise<number> {
  const command = findCommand(argv);
  if (!command) {
    log(usage());
    return argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' ? 0 : 2;
  }
  try {
    const { values, positionals } = parseArgs({
      args: argv.slice(command.words.length),
      options: command.options,
      strict: true,
      allowPositionals: command.positionals === true,
    });
    return await command.run(values, log, positionals);
  } catch (error) {
    const code = codeOf(error);
    console.error(
      `strongroom ${command.words.join(' ')}: [${code}] ${error instanceof Error ? error.message : String(error)}`,
    );
    return 1;
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2)).then((exitCode) => {
    process.exitCode = exitCode;
  });
}
