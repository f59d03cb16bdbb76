import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startVaultStandin, type VaultStandin } from '../../testing/src/vault-standin';
import {
  LocalSecretsProvider,
  SecretsError,
  type SecretsProvider,
  VaultSecretsProvider,
  verifyWithPublicKeys,
} from '../src/secrets';

interface Harness {
  provider: SecretsProvider;
  /** The same backend reached with a token it does not accept (Vault only: local has no tokens). */
  withBadCredential?: () => SecretsProvider;
  /** The version prefix of this backend's ciphertexts and signatures. */
  prefix: 'vault' | 'local';
  close(): Promise<void>;
}

const silent = pino({ level: 'silent' });

async function localHarness(): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'sr-secrets-'));
  const provider = new LocalSecretsProvider({ stateDir: dir, logger: silent, nodeEnv: 'test' });
  return { provider, prefix: 'local', close: () => rm(dir, { recursive: true, force: true }) };
}

async function vaultHarness(): Promise<Harness> {
  const standin: VaultStandin = await startVaultStandin();
  return {
    provider: new VaultSecretsProvider({ addr: standin.addr, token: standin.token }),
    prefix: 'vault',
    withBadCredential: () => new VaultSecretsProvider({ addr: standin.addr, token: 'hvs.not-a-token' }),
    close: () => standin.stop(),
  };
}

describe.each([
  ['local', localHarness, false],
  ['vault (stand-in)', vaultHarness, true],
])('SecretsProvider contract: %s', (_name, makeHarness, hasTokens) => {
  let harness: Harness;
  let secrets: SecretsProvider;

  beforeAll(async () => {
    harness = await makeHarness();
    secrets = harness.provider;
  });
  afterAll(() => harness.close());

  describe('KV', () => {
    it('round-trips a secret and keeps every version readable', async () => {
      expect(await secrets.writeSecret('app/db', { password: 'first' })).toEqual({ version: 1 });
      expect(await secrets.writeSecret('app/db', { password: 'second', user: 'sr' })).toEqual({ version: 2 });

      expect(await secrets.readSecret('app/db')).toEqual({ data: { password: 'second', user: 'sr' }, version: 2 });
      expect(await secrets.readSecret('app/db', { version: 1 })).toEqual({ data: { password: 'first' }, version: 1 });
      const versions = await secrets.secretVersions('app/db');
      expect(versions.map((v) => v.version)).toEqual([1, 2]);
      expect(versions.every((v) => v.deletionTime === '' && !v.destroyed && v.createdTime.length > 0)).toBe(true);
    });

    it('answers null for a missing secret or version, and no versions', async () => {
      expect(await secrets.readSecret('app/missing')).toBeNull();
      expect(await secrets.readSecret('app/db', { version: 99 })).toBeNull();
      expect(await secrets.secretVersions('app/missing')).toEqual([]);
    });

    it('writes with check-and-set only at the expected version', async () => {
      expect(await secrets.writeSecret('app/cas', { v: 'a' }, { cas: 0 })).toEqual({ version: 1 });
      await expect(secrets.writeSecret('app/cas', { v: 'b' }, { cas: 0 })).rejects.toMatchObject({
        code: 'CAS_MISMATCH',
      });
      await expect(secrets.writeSecret('app/cas', { v: 'b' }, { cas: 5 })).rejects.toBeInstanceOf(SecretsError);
      expect(await secrets.writeSecret('app/cas', { v: 'b' }, { cas: 1 })).toEqual({ version: 2 });
      expect((await secrets.readSecret('app/cas'))?.data).toEqual({ v: 'b' });
    });

    it('refuses paths that would escape the mount and empty secrets', async () => {
      await expect(secrets.readSecret('../sys/raw')).rejects.toMatchObject({ code: 'INVALID' });
      await expect(secrets.writeSecret('a//b', { x: 'y' })).rejects.toMatchObject({ code: 'INVALID' });
      await expect(secrets.writeSecret('app/empty', {})).rejects.toMatchObject({ code: 'INVALID' });
    });
  });

  describe('transit encryption', () => {
    const plaintext = Buffer.from('dek-material-0123456789abcdef');

    it('encrypts under the key version and decrypts back', async () => {
      expect(await secrets.ensureKey('kek', 'aes256-gcm96')).toEqual({
        name: 'kek',
        type: 'aes256-gcm96',
        latestVersion: 1,
      });
      const ciphertext = await secrets.encrypt('kek', plaintext);
      expect(ciphertext.startsWith(`${harness.prefix}:v1:`)).toBe(true);
      expect(ciphertext).not.toContain(plaintext.toString('base64'));
      expect(await secrets.decrypt('kek', ciphertext)).toEqual(plaintext);
    });

    it('binds the ciphertext to its context', async () => {
      const context = Buffer.from('tenant-a');
      const ciphertext = await secrets.encrypt('kek', plaintext, { context });
      expect(await secrets.decrypt('kek', ciphertext, { context })).toEqual(plaintext);
      await expect(secrets.decrypt('kek', ciphertext, { context: Buffer.from('tenant-b') })).rejects.toMatchObject({
        code: 'INVALID',
      });
      await expect(secrets.decrypt('kek', ciphertext)).rejects.toMatchObject({ code: 'INVALID' });
    });

    it('refuses an altered ciphertext instead of returning garbage', async () => {
      const ciphertext = await secrets.encrypt('kek', plaintext);
      const [prefix, version, body] = ciphertext.split(':') as [string, string, string];
      const bytes = Buffer.from(body, 'base64');
      bytes[bytes.length - 20]! ^= 0x01;
      const altered = `${prefix}:${version}:${bytes.toString('base64')}`;
      await expect(secrets.decrypt('kek', altered)).rejects.toMatchObject({ code: 'INVALID' });
      await expect(secrets.decrypt('kek', 'not-a-ciphertext')).rejects.toBeInstanceOf(SecretsError);
    });

    it('after rotation decrypts old ciphertexts and rewraps them to the latest version', async () => {
      const context = Buffer.from('scope');
      const old = await secrets.encrypt('kek-rotating', plaintext, { context });
      expect(old.startsWith(`${harness.prefix}:v1:`)).toBe(true);
      expect(await secrets.rotateKey('kek-rotating')).toMatchObject({ latestVersion: 2 });

      expect((await secrets.encrypt('kek-rotating', plaintext)).startsWith(`${harness.prefix}:v2:`)).toBe(true);
      expect(await secrets.decrypt('kek-rotating', old, { context })).toEqual(plaintext);
      const rewrapped = await secrets.rewrap('kek-rotating', old, { context });
      expect(rewrapped.startsWith(`${harness.prefix}:v2:`)).toBe(true);
      expect(await secrets.decrypt('kek-rotating', rewrapped, { context })).toEqual(plaintext);
      expect((await secrets.keyInfo('kek-rotating')).latestVersion).toBe(2);
    });

    it('answers NOT_FOUND for an operation on a missing key', async () => {
      await expect(secrets.decrypt('no-such-key', `${harness.prefix}:v1:AAAA`)).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      await expect(secrets.keyInfo('no-such-key')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(secrets.rotateKey('no-such-key')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('refuses to reuse a key name with another type', async () => {
      await expect(secrets.ensureKey('kek', 'ed25519')).rejects.toMatchObject({ code: 'INVALID' });
    });
  });

  describe('transit signing', () => {
    const message = Buffer.from('{"consent":"c-1","amountMinor":1200}');

    it('signs with Ed25519 and verifies; a tampered message or signature is refused', async () => {
      await secrets.ensureKey('consent-signing', 'ed25519');
      const signature = await secrets.sign('consent-signing', message);
      expect(signature.startsWith(`${harness.prefix}:v1:`)).toBe(true);
      expect(await secrets.verify('consent-signing', message, signature)).toBe(true);

      expect(await secrets.verify('consent-signing', Buffer.from(`${message}x`), signature)).toBe(false);
      const bytes = Buffer.from(signature.split(':')[2]!, 'base64');
      bytes[0]! ^= 0x80;
      const tampered = `${harness.prefix}:v1:${bytes.toString('base64')}`;
      expect(await secrets.verify('consent-signing', message, tampered)).toBe(false);
      expect(await secrets.verify('consent-signing', message, `${harness.prefix}:v9:${bytes.toString('base64')}`)).toBe(
        false,
      );
      expect(await secrets.verify('consent-signing', message, 'garbage')).toBe(false);
    });

    it('publishes public keys per version so a third party verifies offline, across rotation', async () => {
      const before = await secrets.sign('consent-signing', message);
      await secrets.rotateKey('consent-signing');
      const after = await secrets.sign('consent-signing', message);
      expect(after.startsWith(`${harness.prefix}:v2:`)).toBe(true);

      const publicKeys = await secrets.publicKeys('consent-signing');
      expect(publicKeys.map((k) => k.version)).toEqual([1, 2]);
      expect(publicKeys.every((k) => Buffer.from(k.publicKey, 'base64').length === 32)).toBe(true);
      expect(verifyWithPublicKeys(publicKeys, message, before)).toBe(true);
      expect(verifyWithPublicKeys(publicKeys, message, after)).toBe(true);
      expect(verifyWithPublicKeys(publicKeys, Buffer.from('other'), after)).toBe(false);
      expect(await secrets.verify('consent-signing', message, before)).toBe(true);
    });

    it('refuses to sign with an encryption key or publish its "public key"', async () => {
      await expect(secrets.sign('kek', message)).rejects.toMatchObject({ code: 'INVALID' });
      await expect(secrets.publicKeys('kek')).rejects.toMatchObject({ code: 'INVALID' });
    });
  });

  // The local provider has no tokens: its "credential" is the master key (secrets-local.spec.ts).
  (hasTokens ? it : it.skip)('answers PERMISSION_DENIED to a caller with a bad token', async () => {
    const intruder = harness.withBadCredential!();
    await expect(intruder.readSecret('app/db')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(intruder.encrypt('kek', Buffer.from('x'))).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });
});
