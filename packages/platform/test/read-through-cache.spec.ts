import { ReadThroughCache } from '../src';

describe('read-through cache', () => {
  let now = 0;
  const options = { ttlMs: 1_000, entriesMax: 2, nowMs: () => now };

  beforeEach(() => {
    now = 0;
  });

  it('serves a value until its read is ttlMs old, then reads again', async () => {
    const cache = new ReadThroughCache<string, number>(options);
    let reads = 0;
    const read = async () => ++reads;
    await expect(cache.get('a', read)).resolves.toBe(1);
    now = 999;
    await expect(cache.get('a', read)).resolves.toBe(1);
    expect(cache.peek('a')).toBe(1);
    now = 1_000;
    expect(cache.peek('a')).toBeUndefined();
    await expect(cache.get('a', read)).resolves.toBe(2);
  });

  it('shares one read between concurrent lookups', async () => {
    const cache = new ReadThroughCache<string, number>(options);
    let reads = 0;
    const read = () => new Promise<number>((resolve) => setTimeout(() => resolve(++reads), 5));
    await expect(Promise.all([cache.get('a', read), cache.get('a', read)])).resolves.toEqual([1, 1]);
  });

  it('keeps neither a failed read nor a value it may not cache', async () => {
    const cache = new ReadThroughCache<string, number | undefined>({ ...options, cacheable: (v) => v !== undefined });
    await expect(cache.get('a', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    await expect(cache.get('a', async () => undefined)).resolves.toBeUndefined();
    await expect(cache.get('a', async () => 7)).resolves.toBe(7);
  });

  it('evicts the oldest entry past entriesMax, forgets on demand, and reads every time with ttl 0', async () => {
    const cache = new ReadThroughCache<string, string>(options);
    for (const key of ['a', 'b', 'c']) await cache.get(key, async () => key);
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('c')).toBe('c');
    cache.forget('c');
    expect(cache.peek('c')).toBeUndefined();
    const off = new ReadThroughCache<string, number>({ ...options, ttlMs: 0 });
    let reads = 0;
    await off.get('a', async () => ++reads);
    await expect(off.get('a', async () => ++reads)).resolves.toBe(2);
  });
});
