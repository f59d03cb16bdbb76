import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { SecretsError } from './secrets-error';

export type StateKind = 'kv' | 'transit';

const MASTER_KEY_FILE = 'master.key';
const MASTER_KEY_BYTES = 32;
const FILE_FORMAT_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
// A state file is one secret or one keyring: anything larger is corruption, not data.
const STATE_FILE_BYTES_MAX = 4 * 1024 * 1024;

/**
 * Files under the state dir, each AES-256-GCM encrypted under a generated master key
 * (`master.key`, 0600, directory 0700). File names are hashes of (kind, name) so a secret path
 * never becomes a file path (no traversal, no names on disk), and the associated data binds each
 * file to its name so files cannot be swapped. Writes are atomic (tmp + fsync + rename) and
 * serialized per file within the process; the local provider is for one developer's machine.
 */
export class EncryptedStateStore {
  private masterKey: Promise<Buffer> | undefined;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly dir: string) {}

  async read<T>(kind: StateKind, name: string, schema: z.ZodType<T>): Promise<T | null> {
    const key = await this.loadMasterKey();
    let sealed: Buffer;
    try {
      sealed = await readFile(this.fileOf(kind, name));
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw SecretsError.unavailable('Cannot read the local secrets state', { kind });
    }
    const parsed = schema.safeParse(parseJson(openState(key, sealed, aadOf(kind, name)).toString('utf8')));
    if (!parsed.success) throw SecretsError.invalid('A local secrets state file is malformed', { kind });
    return parsed.data;
  }

  /** Read-modify-write of one file, serialized with every other update of that file in this process. */
  update<T>(kind: StateKind, name: string, schema: z.ZodType<T>, change: (current: T | null) => T): Promise<T> {
    const file = this.fileOf(kind, name);
    const previous = this.locks.get(file) ?? Promise.resolve();
    const next = previous.then(async () => {
      const updated = change(await this.read(kind, name, schema));
      await this.writeAtomic(
        file,
        sealState(await this.loadMasterKey(), Buffer.from(JSON.stringify(updated)), aadOf(kind, name)),
      );
      return updated;
    });
    const settled = next.catch(() => undefined);
    this.locks.set(file, settled);
    void settled.then(() => {
      if (this.locks.get(file) === settled) this.locks.delete(file);
    });
    return next;
  }

  private fileOf(kind: StateKind, name: string): string {
    const digest = createHash('sha256').update(`${kind}\0${name}`).digest('hex');
    return join(this.dir, kind, `${digest}.enc`);
  }

  private loadMasterKey(): Promise<Buffer> {
    this.masterKey ??= this.readOrCreateMasterKey();
    // A failed load is not cached: the next call retries (e.g. after the operator fixes a mode).
    this.masterKey.catch(() => {
      this.masterKey = undefined;
    });
    return this.masterKey;
  }

  private async readOrCreateMasterKey(): Promise<Buffer> {
    await mkdir(join(this.dir, 'kv'), { recursive: true, mode: DIR_MODE });
    await mkdir(join(this.dir, 'transit'), { recursive: true, mode: DIR_MODE });
    await Promise.all([this.dir, join(this.dir, 'kv'), join(this.dir, 'transit')].map((d) => chmod(d, DIR_MODE)));
    const file = join(this.dir, MASTER_KEY_FILE);
    try {
      // 'wx': two processes racing on a fresh dir cannot both create a key.
      const handle = await open(file, 'wx', FILE_MODE);
      try {
        const key = randomBytes(MASTER_KEY_BYTES);
        await handle.writeFile(key);
        await handle.sync();
        return key;
      } finally {
        await handle.close();
      }
    } catch (error) {
      if (!isErrno(error, 'EEXIST')) throw SecretsError.unavailable('Cannot create the local master key');
    }
    // Like ssh with a private key: refuse a master key others can read.
    if (process.platform !== 'win32' && ((await stat(file)).mode & 0o077) !== 0) {
      throw SecretsError.invalid('The local master key must be readable by its owner only (chmod 600)', {
        file,
      });
    }
    const key = await readFile(file);
    if (key.length !== MASTER_KEY_BYTES) throw SecretsError.invalid('The local master key is malformed', { file });
    return key;
  }

  private async writeAtomic(file: string, contents: Buffer): Promise<void> {
    const tmp = `${file}.${randomBytes(8).toString('hex')}.tmp`;
    try {
      const handle = await open(tmp, 'wx', FILE_MODE);
      try {
        await handle.writeFile(contents);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, file);
    } catch {
      await unlink(tmp).catch(() => undefined);
      throw SecretsError.unavailable('Cannot write the local secrets state');
    }
  }
}

function aadOf(kind: StateKind, name: string): Buffer {
  return Buffer.from(`strongroom-local-secrets/v${FILE_FORMAT_VERSION}\0${kind}\0${name}`);
}

function sealState(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.from([FILE_FORMAT_VERSION]), iv, cipher.getAuthTag(), body]);
}

function openState(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  if (sealed.length < HEADER_BYTES || sealed.length > STATE_FILE_BYTES_MAX || sealed[0] !== FILE_FORMAT_VERSION) {
    throw SecretsError.invalid('A local secrets state file is malformed');
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(1, 1 + IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(1 + IV_BYTES, HEADER_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(HEADER_BYTES)), decipher.final()]);
  } catch {
    throw SecretsError.invalid('A local secrets state file failed authentication (altered, or another master key)');
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// Duck-typed: fs errors may come from another realm (Jest's VM), where `instanceof Error` fails.
function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}
