import { API_KEY_ID_PATTERN, type Environment, SIGNING_SECRET_PATTERN } from '@strongroom/contracts';
import fc from 'fast-check';
import { ApiKeyError } from '../src/api-keys/api-key-errors';
import {
  API_KEY_LENGTH,
  formatApiKey,
  generateApiKey,
  generateSigningSecret,
  parseApiKey,
  randomBase62,
} from '../src/api-keys/api-key-format';
import { apiKeyFailureOf } from './support/api-key-failure';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const base62 = (length: number) =>
  fc.string({ unit: fc.constantFrom(...BASE62.split('')), minLength: length, maxLength: length });
const environment = fc.constantFrom<Environment>('sandbox', 'production');

describe('API key format', () => {
  it('generates sr_test_ keys for sandbox and sr_live_ keys for production, of one fixed length', () => {
    const sandbox = generateApiKey('sandbox');
    const production = generateApiKey('production');
    expect(sandbox.apiKey).toMatch(/^sr_test_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}$/);
    expect(production.apiKey).toMatch(/^sr_live_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}$/);
    expect(sandbox.apiKey).toHaveLength(API_KEY_LENGTH);
    expect(sandbox.parsed).toMatchObject({ environment: 'sandbox' });
    expect(production.parsed).toMatchObject({ environment: 'production' });
  });

  it('issues keyIds the canonical request accepts and signing secrets the signer accepts', () => {
    for (let index = 0; index < 20; index += 1) {
      expect(generateApiKey('sandbox').parsed.keyId).toMatch(API_KEY_ID_PATTERN);
      expect(generateSigningSecret()).toMatch(SIGNING_SECRET_PATTERN);
    }
  });

  it('never repeats a keyId or a secret', () => {
    const keys = Array.from({ length: 200 }, () => generateApiKey('production').parsed);
    expect(new Set(keys.map((key) => key.keyId)).size).toBe(200);
    expect(new Set(keys.map((key) => key.hashedMaterial)).size).toBe(200);
  });

  it('draws every base62 character and nothing else (rejection sampling, no modulo bias)', () => {
    const sample = randomBase62(62_000);
    expect(sample).toMatch(/^[0-9A-Za-z]{62000}$/);
    const counts = new Map<string, number>();
    for (const char of sample) counts.set(char, (counts.get(char) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // 1,000 each (σ ≈ 31); `byte % 62` without rejection would draw the first 8 about 1,211 times.
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(850);
      expect(count).toBeLessThan(1150);
    }
  });

  it('parses back whatever it formats', () => {
    fc.assert(
      fc.property(environment, base62(12), base62(43), (env, keyId, secret) => {
        const parsed = parseApiKey(formatApiKey(env, keyId, secret), env);
        expect(parsed).toEqual({
          environment: env,
          keyId,
          hashedMaterial: `${env === 'sandbox' ? 'sr_test' : 'sr_live'}_${keyId}_${secret}`,
        });
      }),
    );
  });

  it('detects every single-character typo and every adjacent swap by checksum or shape', () => {
    fc.assert(
      fc.property(
        environment,
        base62(12),
        base62(43),
        fc.nat(),
        fc.constantFrom(...BASE62.split(''), '_', '-', 'O'),
        (env, keyId, secret, position, replacement) => {
          const key = formatApiKey(env, keyId, secret);
          const index = position % key.length;
          if (key[index] === replacement) return;
          const typo = `${key.slice(0, index)}${replacement}${key.slice(index + 1)}`;
          expect(['MALFORMED', 'CHECKSUM_MISMATCH']).toContain(apiKeyFailureOf(() => parseApiKey(typo)));
          const next = key[index + 1];
          if (next === undefined || next === key[index]) return;
          const swapped = `${key.slice(0, index)}${next}${key[index]}${key.slice(index + 2)}`;
          expect(['MALFORMED', 'CHECKSUM_MISMATCH']).toContain(apiKeyFailureOf(() => parseApiKey(swapped)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses anything that is not exactly a key: padding, truncation, case, other prefixes, lookalikes', () => {
    const key = generateApiKey('production').apiKey;
    const cases = [
      '',
      ` ${key}`,
      `${key}\n`,
      key.slice(0, -1),
      `${key}0`,
      key.toUpperCase(),
      key.replace('sr_live_', 'sr_prod_'),
      key.replace('sr_live_', 'SR_LIVE_'),
      key.replace('sr_live_', 'sk_live_'),
      key.replace(/0/g, '\u0030\u0301'),
      key.replace('_', '\u2013'),
      `Bearer ${key}`,
      'x'.repeat(1_000_000),
    ];
    for (const candidate of cases) {
      if (candidate === key) continue;
      expect(['MALFORMED', 'CHECKSUM_MISMATCH']).toContain(apiKeyFailureOf(() => parseApiKey(candidate)));
    }
  });

  it('refuses a sandbox key for a production resource and the other way round, before any lookup', () => {
    const sandbox = generateApiKey('sandbox').apiKey;
    const production = generateApiKey('production').apiKey;
    expect(apiKeyFailureOf(() => parseApiKey(sandbox, 'production'))).toBe('WRONG_ENVIRONMENT');
    expect(apiKeyFailureOf(() => parseApiKey(production, 'sandbox'))).toBe('WRONG_ENVIRONMENT');
    expect(apiKeyFailureOf(() => parseApiKey(sandbox, 'sandbox'))).toBe('accepted');
  });

  it('never puts the presented key or its secret in an error', () => {
    const key = generateApiKey('sandbox').apiKey;
    const secret = key.slice(-49, -6);
    for (const candidate of [key.slice(0, -1), `${key.slice(0, -1)}!`, key]) {
      try {
        parseApiKey(candidate, 'production');
      } catch (error) {
        const shown = JSON.stringify({ message: (error as Error).message, details: (error as ApiKeyError).details });
        expect(shown).not.toContain(secret);
        expect(shown).not.toContain(secret.slice(0, 12));
      }
    }
  });
});
