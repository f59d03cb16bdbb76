import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Equality whose duration depends on neither the content nor the lengths of its inputs: both
 * sides are hashed to 32 bytes first, then compared with crypto.timingSafeEqual.
 */
export function constantTimeEqual(a: string | Buffer, b: string | Buffer): boolean {
  const digestA = createHash('sha256').update(a).digest();
  const digestB = createHash('sha256').update(b).digest();
  // The length check comes after the comparison so both paths do the same work.
  return timingSafeEqual(digestA, digestB) && Buffer.byteLength(a) === Buffer.byteLength(b);
}
