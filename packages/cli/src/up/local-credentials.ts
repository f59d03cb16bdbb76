import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Passwords `strongroom up` generates for a local stack (the embedded Postgres superuser, each
 * service's owner and runtime roles), created once and reused, in a 0600 file of the state dir.
 * Deployments get theirs from Vault; this file exists only for the local stack.
 */
export type LocalCredentials = Record<string, string>;

const FILE_NAME = 'credentials.json';

function generatedPassword(): string {
  // URL-safe so it can sit in a connection string without escaping surprises.
  return randomBytes(24).toString('base64url');
}

export class LocalCredentialStore {
  private readonly file: string;
  private readonly values: LocalCredentials;

  constructor(stateDir: string) {
    this.file = join(stateDir, FILE_NAME);
    this.values = existsSync(this.file) ? (JSON.parse(readFileSync(this.file, 'utf8')) as LocalCredentials) : {};
  }

  /** The password stored under `name`, generated and saved on first use. */
  passwordFor(name: string): string {
    return this.valueOf(name) ?? this.remember(name, generatedPassword());
  }

  valueOf(name: string): string | undefined {
    return this.values[name];
  }

  remember(name: string, value: string): string {
    this.rememberAll({ [name]: value });
    return value;
  }

  /** Several values in one write: a crash never leaves some of them without the others. */
  rememberAll(entries: Record<string, string>): void {
    Object.assign(this.values, entries);
    // Written aside, then renamed over the old file: a reader sees the old values or the new ones.
    const next = `${this.file}.next`;
    writeFileSync(next, `${JSON.stringify(this.values, null, 2)}\n`, { mode: 0o600 });
    renameSync(next, this.file);
  }
}
