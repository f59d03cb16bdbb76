import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import {
  CONTENT_SHA256_PATTERN,
  canonicalPath,
  canonicalQuery,
  canonicalRequest,
  REQUEST_NONCE_PATTERN,
  REQUEST_QUERY_PARAMETERS_MAX,
  REQUEST_SIGNATURE_PATTERN,
  REQUEST_SIGNING_HEADERS,
  RequestSigningError,
  requestSignature,
  sha256Hex,
  signRequest,
  splitRequestTarget,
} from '../src/request-signing';

const signingSecret = `sr_sig_${'a1B2c3D4e5'.repeat(4)}xyz`;
const keyId = 'AbCdEf123456';
const now = new Date('2030-01-01T00:00:00Z');
const nonce = 'AAAAAAAAAAAAAAAAAAAAAA';
const emptySha256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function malformedTarget(run: () => unknown): void {
  expect(run).toThrow(RequestSigningError);
  try {
    run();
  } catch (error) {
    expect((error as RequestSigningError).code).toBe('MALFORMED_TARGET');
  }
}

describe('the canonical request', () => {
  it('is the scheme, method, path, sorted query, timestamp, nonce, body digest and keyId, one per line', () => {
    const canonical = canonicalRequest({
      method: 'POST',
      target: '/v1/transfers?b=2&a=1',
      timestamp: '1893456000',
      nonce,
      contentSha256: emptySha256,
      keyId,
    });
    expect(canonical).toBe(
      ['SR1-HMAC-SHA256', 'POST', '/v1/transfers', 'a=1&b=2', '1893456000', nonce, emptySha256, keyId].join('\n'),
    );
  });

  it('refuses elements that could smuggle a line: lower-case or odd methods, bad timestamps, nonces, digests', () => {
    const valid = { method: 'GET', target: '/', timestamp: '1', nonce, contentSha256: emptySha256, keyId };
    for (const method of ['get', 'GET\n', '', 'GE T', 'X'.repeat(17)])
      malformedTarget(() => canonicalRequest({ ...valid, method }));
    const malformed: Array<[keyof typeof valid, string]> = [
      ['timestamp', '01'],
      ['timestamp', '-1'],
      ['timestamp', '1.5'],
      ['timestamp', '1\n'],
      ['nonce', 'short'],
      ['nonce', `${nonce}\n`],
      ['nonce', `${nonce}+/`],
      ['contentSha256', emptySha256.toUpperCase()],
      ['keyId', 'AbCdEf12345'],
      ['keyId', 'AbCdEf12345_'],
    ];
    for (const [field, value] of malformed) {
      expect(() => canonicalRequest({ ...valid, [field]: value })).toThrow(
        expect.objectContaining({ code: 'MALFORMED_HEADER' }),
      );
    }
  });

  it('accepts only origin-form targets without a fragment, within the length limit', () => {
    expect(splitRequestTarget('/a?b=c?d')).toEqual({ path: '/a', query: 'b=c?d' });
    for (const target of ['', 'a/b', 'http://x/a', '/a#frag', `/${'a'.repeat(9000)}`]) {
      malformedTarget(() => splitRequestTarget(target));
    }
  });
});

describe('path canonicalisation (RFC 3986)', () => {
  it('treats every spelling of an unreserved character as the same path', () => {
    expect(canonicalPath('/a%7eb')).toBe('/a~b');
    expect(canonicalPath('/a%7Eb')).toBe('/a~b');
    expect(canonicalPath('/%41%62%63')).toBe('/Abc');
  });

  it('encodes everything else in upper-case hex, UTF-8 for raw unicode', () => {
    expect(canonicalPath('/caf%c3%a9')).toBe('/caf%C3%A9');
    expect(canonicalPath('/café')).toBe('/caf%C3%A9');
    expect(canonicalPath('/a b')).toBe('/a%20b');
    expect(canonicalPath('/a+b')).toBe('/a%2Bb');
    expect(canonicalPath("/a'(b)*!")).toBe('/a%27%28b%29%2A%21');
    expect(canonicalPath('/😀')).toBe('/%F0%9F%98%80');
  });

  it('keeps unicode normalisation forms apart: different bytes are different resources', () => {
    expect(canonicalPath('/caf\u00e9')).not.toBe(canonicalPath('/cafe\u0301'));
  });

  it('keeps an encoded slash apart from a separator and keeps empty segments', () => {
    expect(canonicalPath('/a%2Fb')).toBe('/a%2Fb');
    expect(canonicalPath('/a%2fb')).not.toBe(canonicalPath('/a/b'));
    expect(canonicalPath('//a//')).toBe('//a//');
  });

  it('refuses dot segments, plain or encoded, which routers and proxies resolve differently', () => {
    for (const path of ['/a/../b', '/a/./b', '/..', '/a/%2e%2E/b', '/a/%2E', '/.'])
      malformedTarget(() => canonicalPath(path));
    expect(canonicalPath('/a/...')).toBe('/a/...');
    expect(canonicalPath('/.well-known')).toBe('/.well-known');
  });

  it('refuses broken percent-encoding instead of guessing', () => {
    for (const path of ['/%', '/%4', '/%zz', '/a%g0', '/%%41']) malformedTarget(() => canonicalPath(path));
  });

  it('keeps a lone encoded byte as that byte, not a replacement character', () => {
    expect(canonicalPath('/%C3')).toBe('/%C3');
    expect(canonicalPath('/%C3')).not.toBe(canonicalPath('/%EF%BF%BD'));
  });

  it('canonicalises what WHATWG URL sends exactly as what encodeURIComponent sends', () => {
    // Trailing `x`: the URL parser strips trailing spaces and C0 controls from its input.
    const segment = fc
      .string({ unit: 'binary', maxLength: 20 })
      .filter((text) => !/[%?#/\\]/.test(text) && [...text].every((char) => (char.codePointAt(0) ?? 0) >= 0x20));
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 4 }), (segments) => {
        const raw = `/${segments.map((text) => `${text}x`).join('/')}`;
        const viaUrl = new URL(raw, 'http://example.test').pathname;
        const viaComponent = `/${segments.map((text) => encodeURIComponent(`${text}x`)).join('/')}`;
        expect(canonicalPath(viaUrl)).toBe(canonicalPath(viaComponent));
        expect(canonicalPath(canonicalPath(viaUrl))).toBe(canonicalPath(viaUrl));
      }),
    );
  });
});

describe('query canonicalisation', () => {
  it('sorts by name, keeping repeated names in their sent order', () => {
    expect(canonicalQuery('b=2&a=1&c=3')).toBe('a=1&b=2&c=3');
    expect(canonicalQuery('id=2&z=0&id=1')).toBe('id=2&id=1&z=0');
    expect(canonicalQuery('id=2&id=1')).not.toBe(canonicalQuery('id=1&id=2'));
  });

  it('reads + as a space, as the gateway parser does, so + and %2B never sign alike', () => {
    expect(canonicalQuery('q=a+b')).toBe('q=a%20b');
    expect(canonicalQuery('q=a%20b')).toBe('q=a%20b');
    expect(canonicalQuery('q=a%2Bb')).toBe('q=a%2Bb');
    expect(canonicalQuery('q=a+b')).not.toBe(canonicalQuery('q=a%2Bb'));
  });

  it('treats a bare name as an empty value and drops empty pairs, as URLSearchParams does', () => {
    expect(canonicalQuery('a')).toBe(canonicalQuery('a='));
    expect(canonicalQuery('&&a=1&&')).toBe('a=1');
    expect(canonicalQuery('')).toBe('');
    expect(canonicalQuery('a=b=c')).toBe('a=b%3Dc');
    expect(canonicalQuery('a%3Db=c')).toBe('a%3Db=c');
    expect(canonicalQuery('a%26b=1')).not.toBe(canonicalQuery('a&b=1'));
  });

  it('encodes unicode names and values as UTF-8 and refuses broken encoding', () => {
    expect(canonicalQuery('name=Zoë')).toBe(canonicalQuery('name=Zo%C3%AB'));
    expect(canonicalQuery('ñ=1')).toBe('%C3%B1=1');
    for (const query of ['a=%', 'a=%2', '%zz=1']) malformedTarget(() => canonicalQuery(query));
  });

  it('bounds the number of parameters', () => {
    const query = Array.from({ length: REQUEST_QUERY_PARAMETERS_MAX + 1 }, (_, index) => `p${index}=1`).join('&');
    malformedTarget(() => canonicalQuery(query));
  });

  it('gives URLSearchParams output and encodeURIComponent output the same canonical form', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    fc.assert(
      fc.property(fc.array(fc.tuple(text, text), { maxLength: 6 }), (pairs) => {
        const viaParams = new URLSearchParams(pairs).toString();
        const viaComponent = pairs.map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
        expect(canonicalQuery(viaParams)).toBe(canonicalQuery(viaComponent.join('&')));
        expect(canonicalQuery(canonicalQuery(viaParams))).toBe(canonicalQuery(viaParams));
      }),
    );
  });
});

describe('signRequest (the SDK signer)', () => {
  const input = {
    method: 'post',
    url: 'https://api.example.test/v1/transfers?b=2&a=1',
    keyId,
    signingSecret,
    now,
    nonce,
  };

  it('returns the four signing headers, signed over the canonical request with HMAC-SHA256', () => {
    const headers = signRequest({ ...input, body: '{"amountMinor":100}' });
    const contentSha256 = sha256Hex(Buffer.from('{"amountMinor":100}'));
    const canonical = canonicalRequest({
      method: 'POST',
      target: '/v1/transfers?b=2&a=1',
      timestamp: '1893456000',
      nonce,
      contentSha256,
      keyId,
    });
    expect(headers).toEqual({
      [REQUEST_SIGNING_HEADERS.timestamp]: '1893456000',
      [REQUEST_SIGNING_HEADERS.nonce]: nonce,
      [REQUEST_SIGNING_HEADERS.contentSha256]: contentSha256,
      [REQUEST_SIGNING_HEADERS.signature]: createHmac('sha256', signingSecret).update(canonical).digest('hex'),
    });
    expect(requestSignature(signingSecret, canonical)).toBe(headers[REQUEST_SIGNING_HEADERS.signature]);
  });

  it('signs an absolute URL, a bare target and a URL object alike, and ignores the fragment', () => {
    const expected = signRequest(input);
    expect(signRequest({ ...input, url: '/v1/transfers?b=2&a=1' })).toEqual(expected);
    expect(signRequest({ ...input, url: new URL(input.url) })).toEqual(expected);
    expect(signRequest({ ...input, url: `${input.url}#section` })).toEqual(expected);
  });

  it('hashes the exact body bytes: a string is its UTF-8, no body is the empty digest', () => {
    expect(signRequest(input)[REQUEST_SIGNING_HEADERS.contentSha256]).toBe(emptySha256);
    expect(signRequest({ ...input, body: 'é' })).toEqual(signRequest({ ...input, body: Buffer.from('é', 'utf8') }));
    expect(signRequest({ ...input, body: 'é' })).not.toEqual(
      signRequest({ ...input, body: Buffer.from('é', 'latin1') }),
    );
  });

  it('draws a fresh 16-byte nonce per request by default', () => {
    const { nonce: _fixed, ...unfixed } = input;
    const nonces = new Set(Array.from({ length: 50 }, () => signRequest(unfixed)[REQUEST_SIGNING_HEADERS.nonce]));
    expect(nonces.size).toBe(50);
    for (const value of nonces) {
      expect(value).toMatch(REQUEST_NONCE_PATTERN);
      expect(Buffer.from(value, 'base64url').length).toBeGreaterThanOrEqual(16);
    }
  });

  it('produces header values in the formats the server checks', () => {
    const headers = signRequest(input);
    expect(headers[REQUEST_SIGNING_HEADERS.contentSha256]).toMatch(CONTENT_SHA256_PATTERN);
    expect(headers[REQUEST_SIGNING_HEADERS.signature]).toMatch(REQUEST_SIGNATURE_PATTERN);
  });

  it('refuses something that is not a signing secret (an API key passed by mistake) without echoing it', () => {
    const apiKey = 'sr_live_AbCdEf123456_secretsecretsecretsecretsecretsecretsecretsecret';
    expect(() => signRequest({ ...input, signingSecret: apiKey })).toThrow(RequestSigningError);
    try {
      signRequest({ ...input, signingSecret: apiKey });
    } catch (error) {
      expect(JSON.stringify({ ...(error as RequestSigningError), message: (error as Error).message })).not.toContain(
        'secretsecret',
      );
    }
  });

  it('changes the signature when any signed element changes', () => {
    const base = signRequest(input)[REQUEST_SIGNING_HEADERS.signature];
    const variants = [
      { method: 'put' },
      { url: 'https://api.example.test/v1/transfers/?b=2&a=1' },
      { url: 'https://api.example.test/v1/transfers?b=3&a=1' },
      { body: ' ' },
      { now: new Date(now.getTime() + 1000) },
      { nonce: 'BAAAAAAAAAAAAAAAAAAAAA' },
      { keyId: 'AbCdEf123457' },
      { signingSecret: `${signingSecret.slice(0, -1)}Z` },
    ];
    for (const variant of variants) {
      expect(signRequest({ ...input, ...variant })[REQUEST_SIGNING_HEADERS.signature]).not.toBe(base);
    }
  });
});
