import { BatchQueue } from '../src/ingest/batch-queue';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('BatchQueue (between the JetStream reader and the store)', () => {
  it('hands over what has arrived at once, without waiting for a batch to fill', async () => {
    const queue = new BatchQueue<string>(10);
    await queue.push('a', 1);
    expect(await queue.take(100)).toEqual(['a']);
  });

  it('takes items in arrival order up to a weight, the first one always', async () => {
    const queue = new BatchQueue<string>(10);
    await queue.push('a', 3);
    await queue.push('b', 3);
    await queue.push('c', 3);
    expect(await queue.take(6)).toEqual(['a', 'b']);
    expect(await queue.take(1)).toEqual(['c']);
  });

  it('makes a take wait for the next item', async () => {
    const queue = new BatchQueue<string>(10);
    const taken = queue.take(10);
    await tick();
    await queue.push('late', 1);
    expect(await taken).toEqual(['late']);
  });

  it('holds the reader while full, and lets it go once the store took a batch', async () => {
    const queue = new BatchQueue<number>(2);
    await queue.push(1, 1);
    let released = false;
    const pushing = queue.push(2, 1).then(() => {
      released = true;
    });
    await tick();
    expect(released).toBe(false);
    expect(await queue.take(1)).toEqual([1]);
    await pushing;
    expect(released).toBe(true);
    expect(queue.length).toBe(1);
  });

  it('once closed: a waiting take ends empty, a waiting push returns, what is left can be drained', async () => {
    const queue = new BatchQueue<number>(1);
    const waiting = queue.take(10);
    queue.close();
    expect(await waiting).toEqual([]);
    await queue.push(1, 1);
    await queue.push(2, 1);
    expect(queue.drain()).toEqual([1, 2]);
    expect(queue.length).toBe(0);
  });
});
