import { ACCESS_TOKEN_TTL_SECONDS_MAX } from '@strongroom/contracts';
import {
  currentKey,
  PUBLISH_LEAD_SECONDS,
  publishedKeys,
  rotate,
  rotationDue,
  SIGNING_KEY_ROTATION_DAYS,
} from '../src/signing-keys/signing-key-ring';

const at = (iso: string) => new Date(iso);
const plusSeconds = (date: Date, seconds: number) => new Date(date.getTime() + seconds * 1000);

describe('token-signing key ring', () => {
  it('creates a first key that signs at once, and publishes only its public half', async () => {
    const now = at('2026-01-01T00:00:00Z');
    expect(rotationDue([], now)).toBe(true);
    const keys = await rotate([], now);
    expect(currentKey(keys, now)?.kid).toBe(keys[0]!.kid);
    const [published] = publishedKeys(keys, now);
    expect(published).toMatchObject({ kty: 'RSA', e: 'AQAB', alg: 'RS256', use: 'sig', kid: keys[0]!.kid });
    // 2048-bit modulus: 256 bytes, base64url without padding.
    expect(Buffer.from(published!.n!, 'base64url')).toHaveLength(256);
    expect(published).not.toHaveProperty('d');
  });

  it('publishes the next key before it signs, and keeps the old one until its last token expires', async () => {
    const start = at('2026-01-01T00:00:00Z');
    const first = await rotate([], start);
    const rotateAt = plusSeconds(start, SIGNING_KEY_ROTATION_DAYS * 86_400);
    expect(rotationDue(first, plusSeconds(rotateAt, -1))).toBe(false);
    expect(rotationDue(first, rotateAt)).toBe(true);

    const second = await rotate(first, rotateAt);
    const [oldKid, newKid] = second.map((key) => key.kid);
    // Published at once, but the old key still signs during the lead.
    expect(publishedKeys(second, rotateAt).map((k) => k.kid)).toEqual([oldKid, newKid]);
    expect(currentKey(second, plusSeconds(rotateAt, PUBLISH_LEAD_SECONDS - 1))?.kid).toBe(oldKid);
    const switchAt = plusSeconds(rotateAt, PUBLISH_LEAD_SECONDS);
    expect(currentKey(second, switchAt)?.kid).toBe(newKid);
    // The old key verifies tokens for the longest token lifetime after it stopped signing.
    const lastOldTokenExpires = plusSeconds(switchAt, ACCESS_TOKEN_TTL_SECONDS_MAX);
    expect(publishedKeys(second, plusSeconds(lastOldTokenExpires, -1)).map((k) => k.kid)).toContain(oldKid);
    expect(publishedKeys(second, lastOldTokenExpires).map((k) => k.kid)).toEqual([newKid]);
  });

  it('drops keys no token can need any more at the next rotation', async () => {
    let keys = await rotate([], at('2026-01-01T00:00:00Z'));
    keys = await rotate(keys, at('2026-04-01T00:00:00Z'));
    keys = await rotate(keys, at('2026-07-01T00:00:00Z'));
    expect(keys).toHaveLength(2);
  });
});
