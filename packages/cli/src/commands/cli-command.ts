import type { ParseArgsConfig } from 'node:util';

export type CliOptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** One `strongroom <words...>` command; main.ts lists them and parses its options. */
export interface CliCommand {
  /** The words naming it, e.g. ['pki', 'init']. */
  readonly words: readonly string[];
  readonly summary: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** Takes arguments that are no option (e.g. `audit verify-export DIR`); refused otherwise. */
  readonly positionals?: boolean;
  /** Resolves to the process exit code. */
  run(values: CliOptionValues, log: (line: string) => void, positionals?: readonly string[]): Promise<number>;
}

export type CliErrorCode = 'CLI_USAGE';

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: CliErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function stringOption(values: CliOptionValues, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

export function stringListOption(values: CliOptionValues, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

export function integerOption(values: CliOptionValues, name: string): number | undefined {
  const value = stringOption(values, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new CliError('CLI_USAGE', `--${name} must be a whole number, not "${value}"`);
  return Number(value);
}
