/**
 * Between the JetStream reader and the store: messages arrive one by one, the store takes them
 * in batches. The reader waits while the queue is full (so the client pulls no more than the
 * store keeps up with); the store takes what has arrived, up to a weight (events, not messages:
 * one message may carry a thousand), never waiting for a batch to fill — under light load a
 * batch is one message and its latency is one transaction.
 */
export class BatchQueue<T> {
  private readonly items: Array<{ item: T; weight: number }> = [];
  private closed = false;
  private itemArrived: (() => void) | undefined;
  private roomMade: (() => void) | undefined;

  constructor(private readonly capacity: number) {}

  get length(): number {
    return this.items.length;
  }

  /** Adds an item; resolves once there is room for the next (or the queue closed). */
  async push(item: T, weight: number): Promise<void> {
    this.items.push({ item, weight });
    this.itemArrived?.();
    while (!this.closed && this.items.length >= this.capacity) {
      await new Promise<void>((resolve) => {
        this.roomMade = resolve;
      });
    }
  }

  /**
   * Waits for at least one item, then takes items in arrival order while their weights stay
   * within `weightMax` (the first is always taken). Empty only once the queue is closed and drained.
   */
  async take(weightMax: number): Promise<T[]> {
    while (this.items.length === 0 && !this.closed) {
      await new Promise<void>((resolve) => {
        this.itemArrived = resolve;
      });
    }
    const taken: T[] = [];
    let weight = 0;
    while (this.items.length > 0) {
      const next = this.items[0] as { item: T; weight: number };
      if (taken.length > 0 && weight + next.weight > weightMax) break;
      this.items.shift();
      taken.push(next.item);
      weight += next.weight;
    }
    this.roomMade?.();
    return taken;
  }

  /** No more items: a waiting take returns what is left, then nothing; a waiting push returns. */
  close(): void {
    this.closed = true;
    this.itemArrived?.();
    this.roomMade?.();
  }

  /** Removes and returns every item still queued. */
  drain(): T[] {
    return this.items.splice(0).map(({ item }) => item);
  }
}
