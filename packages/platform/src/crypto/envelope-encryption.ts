import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { SecretsError } from '../secrets/secrets-error';
import type { TransitSecrets } from '../secrets/secrets-provider';
import { parseVersioned } from '../secrets/transit-format';
import { BoundedTtlCache } from './bounded-ttl-cache';
import { CryptoError } from './crypto-error';
import type { DataKeyRepository, StoredDataKey } from './data-key-repository';
import { DATA_KEY_ROTATION_PERIOD_DAYS, dueForRotation } from './data-key-rotation';
import { assertPurpose, type DataKeyOwner, dataKeyScope, type EnvelopeContext } from './data-key-scope';
import { ENVELOPE_FORMAT, formatEnvelope, IV_BYTES, parseEnvelope, TAG_BYTES } from './envelope-format';

export const KEK_NAME_DEFAULT = 'strongroom-kek';
export const DATA_KEY_CACHE_ENTRIES_MAX_DEFAULT = 1_000;
export const DATA_KEY_CACHE_TTL_SECONDS_DEFAULT = 300;
export const PLAINTEXT_BYTES_MAX = 16 * 1024 * 1024;
const DATA_KEY_BYTES = 32;
const BATCH_SIZE_DEFAULT = 100;

export interface EnvelopeEncryptionOptions {
  transit: TransitSecrets;
  repository: DataKeyRepository;
  /** The transit key (KEK) that wraps every data key. */
  kekName?: string;
  cacheEntriesMax?: number;
  cacheTtlSeconds?: number;
  now?: () => Date;
}

interface DataKey {
  id: string;
  scope: string;
  key: Buffer;
}

/**
 * Envelope encryption (DESIGN "Secrets and keys"): AES-256-GCM data keys per tenant (per customer
 * where asked), wrapped by a KEK in Vault Transit. A ciphertext names its data key and is bound
 * by associated data to (data key, scope, purpose): moved to another tenant, customer or purpose
 * it fails to decrypt, as does any flipped byte.
 */
export class EnvelopeEncryption {
  private readonly transit: TransitSecrets;
  private readonly repository: DataKeyRepository;
  private readonly kekName: string;
  private readonly now: () => Date;
  private readonly keys: BoundedTtlCache<string, DataKey>;
  private readonly activeIds: BoundedTtlCache<string, string>;
  private readonly creating = new Map<string, Promise<DataKey>>();

  constructor(options: EnvelopeEncryptionOptions) {
    this.transit = options.transit;
    this.repository = options.repository;
    this.kekName = options.kekName ?? KEK_NAME_DEFAULT;
    this.now = options.now ?? (() => new Date());
    const entriesMax = options.cacheEntriesMax ?? DATA_KEY_CACHE_ENTRIES_MAX_DEFAULT;
    const ttlSeconds = options.cacheTtlSeconds ?? DATA_KEY_CACHE_TTL_SECONDS_DEFAULT;
    const nowMs = () => this.now().getTime();
    this.keys = new BoundedTtlCache(entriesMax, ttlSeconds, nowMs);
    this.activeIds = new BoundedTtlCache(entriesMax, ttlSeconds, nowMs);
  }

  async encrypt(context: EnvelopeContext, plaintext: Buffer | string): Promise<string> {
    const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    if (bytes.length > PLAINTEXT_BYTES_MAX) throw CryptoError.invalidInput('The plaintext is too large');
    assertPurpose(context.purpose);
    const dataKey = await this.activeKey(dataKeyScope(context));
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', dataKey.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(dataKey.id, dataKey.scope, context.purpose));
    const body = Buffer.concat([cipher.update(bytes), cipher.final()]);
    return formatEnvelope({ dataKeyId: dataKey.id, iv, tag: cipher.getAuthTag(), body });
  }

  async decrypt(context: EnvelopeContext, ciphertext: string): Promise<Buffer> {
    assertPurpose(context.purpose);
    const scope = dataKeyScope(context);
    const parts = parseEnvelope(ciphertext);
    const dataKey = await this.keyById(parts.dataKeyId);
    // Another tenant's data key never touches this tenant's request, even to fail authentication.
    if (dataKey.scope !== scope) throw CryptoError.decryptionFailed({ dataKeyId: parts.dataKeyId });
    try {
      const decipher = createDecipheriv('aes-256-gcm', dataKey.key, parts.iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(associatedData(dataKey.id, scope, context.purpose));
      decipher.setAuthTag(parts.tag);
      return Buffer.concat([decipher.update(parts.body), decipher.final()]);
    } catch {
      throw CryptoError.decryptionFailed({ dataKeyId: parts.dataKeyId });
    }
  }

  /** A new data key takes over new writes for the owner; older ciphertexts keep decrypting. */
  rotateDataKey(owner: DataKeyOwner): Promise<StoredDataKey> {
    return this.rotateScope(dataKeyScope(owner));
  }

  /** Rotates every active data key older than the period; returns how many were rotated. */
  async rotateDueDataKeys(periodDays = DATA_KEY_ROTATION_PERIOD_DAYS, batchSize = BATCH_SIZE_DEFAULT): Promise<number> {
    let rotated = 0;
    for await (const key of this.allKeys(batchSize)) {
      if (key.retiredAt !== null || !dueForRotation(key, this.now(), periodDays)) continue;
      await this.rotateScope(key.scope);
      rotated += 1;
    }
    return rotated;
  }

  /**
   * Re-wraps stored data keys under the KEK's latest version (after a KEK rotation) in batches.
   * The data keys themselves do not change, so readers and writers carry on meanwhile.
   */
  async rewrapAll(batchSize = BATCH_SIZE_DEFAULT): Promise<{ examined: number; rewrapped: number }> {
    const { latestVersion } = await this.transit.keyInfo(this.kekName);
    let examined = 0;
    let rewrapped = 0;
    for await (const key of this.allKeys(batchSize)) {
      examined += 1;
      if (key.kekVersion >= latestVersion) continue;
      const wrapped = await this.transit.rewrap(this.kekName, key.wrappedKey, {
        context: wrapContext(key.scope, key.id),
      });
      // Compare-and-set: a concurrent rewrap of the same key is harmless, one of them wins.
      if (await this.repository.updateWrapping(key.id, key.wrappedKey, wrapped, kekVersionOf(wrapped))) rewrapped += 1;
    }
    return { examined, rewrapped };
  }

  private async *allKeys(batchSize: number): AsyncGenerator<StoredDataKey> {
    let afterId: string | null = null;
    for (;;) {
      const page: StoredDataKey[] = await this.repository.listPage(afterId, batchSize);
      yield* page;
      if (page.length < batchSize) return;
      afterId = page[page.length - 1]!.id;
    }
  }

  private async rotateScope(scope: string): Promise<StoredDataKey> {
    const current = await this.repository.findActive(scope);
    const created = await this.createDataKey(scope, (current?.version ?? 0) + 1);
    this.activeIds.delete(scope);
    if (created !== null) return created;
    // Another writer rotated at the same moment: theirs is the new key.
    const theirs = await this.repository.findActive(scope);
    if (theirs === null) throw new CryptoError('CONFLICT', 'A concurrent rotation left no active data key', { scope });
    return theirs;
  }

  private async activeKey(scope: string): Promise<DataKey> {
    const activeId = this.activeIds.get(scope);
    const cached = activeId === undefined ? undefined : this.keys.get(activeId);
    if (cached !== undefined) return cached;
    // One lookup-or-create per scope at a time in this process (the database settles cross-process races).
    const pending = this.creating.get(scope) ?? this.loadOrCreateActive(scope);
    this.creating.set(scope, pending);
    try {
      return await pending;
    } finally {
      this.creating.delete(scope);
    }
  }

  private async loadOrCreateActive(scope: string): Promise<DataKey> {
    let stored = await this.repository.findActive(scope);
    if (stored === null) stored = (await this.createDataKey(scope, 1)) ?? (await this.repository.findActive(scope));
    if (stored === null) throw new CryptoError('CONFLICT', 'No active data key after creating one', { scope });
    const dataKey = await this.unwrap(stored);
    this.activeIds.set(scope, stored.id);
    return dataKey;
  }

  /** Null when the scope already has this version (another writer was first). */
  private async createDataKey(scope: string, version: number): Promise<StoredDataKey | null> {
    const id = randomUUID();
    const key = randomBytes(DATA_KEY_BYTES);
    const wrappedKey = await this.transit.encrypt(this.kekName, key, { context: wrapContext(scope, id) });
    const stored: StoredDataKey = {
      id,
      scope,
      version,
      wrappedKey,
      kekVersion: kekVersionOf(wrappedKey),
      createdAt: this.now(),
      retiredAt: null,
    };
    if (!(await this.repository.insertActive(stored))) return null;
    this.keys.set(id, { id, scope, key });
    return stored;
  }

  private async keyById(id: string): Promise<DataKey> {
    const cached = this.keys.get(id);
    if (cached !== undefined) return cached;
    const stored = await this.repository.findById(id);
    if (stored === null) throw CryptoError.dataKeyNotFound(id);
    return this.unwrap(stored);
  }

  private async unwrap(stored: StoredDataKey): Promise<DataKey> {
    const cached = this.keys.get(stored.id);
    if (cached !== undefined) return cached;
    let key: Buffer;
    try {
      key = await this.transit.decrypt(this.kekName, stored.wrappedKey, {
        context: wrapContext(stored.scope, stored.id),
      });
    } catch (error) {
      // A wrapped key moved to another row (scope or id) fails here: the wrap is bound to both.
      if (error instanceof SecretsError && error.code === 'INVALID')
        throw CryptoError.decryptionFailed({ dataKeyId: stored.id });
      throw error;
    }
    if (key.length !== DATA_KEY_BYTES) throw CryptoError.decryptionFailed({ dataKeyId: stored.id });
    const dataKey = { id: stored.id, scope: stored.scope, key };
    this.keys.set(stored.id, dataKey);
    return dataKey;
  }
}

function associatedData(dataKeyId: string, scope: string, purpose: string): Buffer {
  return Buffer.from(`${ENVELOPE_FORMAT}\0${dataKeyId}\0${scope}\0${purpose}`, 'utf8');
}

function wrapContext(scope: string, dataKeyId: string): Buffer {
  return Buffer.from(`strongroom/data-key/v1\0${scope}\0${dataKeyId}`, 'utf8');
}

function kekVersionOf(wrapped: string): number {
  const parsed = parseVersioned(wrapped);
  if (parsed === null) throw CryptoError.malformed('wrapped data key');
  return parsed.version;
}
